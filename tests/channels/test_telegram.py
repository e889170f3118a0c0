"""The Telegram channel against updates as Telegram posts them and a local server
speaking the Bot API (which refuses what Telegram refuses: over-long texts,
HTML it cannot parse)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional

import aiohttp
import pytest

from bilingual_assistant.errors import ConfigurationError
from channels.platform import TEXT_ONLY_NOTE
from channels.telegram import SECRET_HEADER, TelegramChannel, derived_secret
from tests.channels.serving import VPN_ANSWER, Agent, serve
from tests.fakes.platforms import FakeTelegram, visible_text

WEBHOOK = "https://bot.example.com/webhooks/telegram/webhook"


@pytest.fixture
def telegram():
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


def channel_for(fake: FakeTelegram, **options: Any) -> TelegramChannel:
    return TelegramChannel.from_credentials({
        "access_token": fake.token, "webhook_url": WEBHOOK, "api_url": fake.url,
        "source_base_url": "https://docs.example.com/kb", **options})


async def send(url: str, update: Dict[str, Any], secret: Optional[str]) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhook", json=update, headers=headers) as reply:
            return reply.status


def test_the_secret_and_webhook_address_are_checked():
    with pytest.raises(ConfigurationError, match="webhook_url"):
        TelegramChannel.from_credentials({"access_token": "1:x", "webhook_url": "bot.example"})
    with pytest.raises(ConfigurationError, match="access_token"):
        TelegramChannel.from_credentials({"access_token": "", "webhook_url": WEBHOOK})
    with pytest.raises(ConfigurationError, match="A-Z"):
        TelegramChannel.from_credentials({"access_token": "1:x", "webhook_url": WEBHOOK,
                                          "webhook_secret": "has spaces"})
    assert derived_secret("1:x") == derived_secret("1:x") != derived_secret("1:y")


async def test_the_webhook_is_registered_at_start_up_with_its_secret(telegram):
    channel = channel_for(telegram)
    async with serve(channel, Agent()) as url:
        registered = await asyncio.to_thread(telegram.wait_for, "setWebhook", 1, 10)
        async with aiohttp.ClientSession() as session:  # Rasa's open route is gone
            async with session.get(f"{url}/set_webhook") as reply:
                assert reply.status in (404, 405)
    assert registered[0]["url"] == WEBHOOK
    assert registered[0]["secret_token"] == channel.secret == derived_secret(telegram.token)
    assert registered[0]["allowed_updates"] == ["message"]
    assert channel.bot_username == FakeTelegram.USERNAME


async def test_updates_without_the_secret_are_refused_unprocessed(telegram):
    agent = Agent()
    channel = channel_for(telegram, webhook_secret="s3cret_token-1")
    async with serve(channel, agent) as url:
        for secret in (None, "", "guess", "s3cret_token-"):
            assert await send(url, telegram.update("VPN怎么连接?"), secret) == 403
        await asyncio.sleep(0.3)
    assert agent.messages == [] and telegram.called("sendMessage") == []


async def test_a_private_question_is_answered_with_linked_sources_once(telegram):
    agent = Agent()
    agent.replies["VPN"] = [{"text": "display", "answer": VPN_ANSWER}]
    channel = channel_for(telegram)
    async with serve(channel, agent) as url:
        update = telegram.update("VPN怎么连接?", user_id=31)
        assert await send(url, update, channel.secret) == 200
        assert await send(url, update, channel.secret) == 200  # Telegram resends it
        sent = await asyncio.to_thread(telegram.wait_for, "sendMessage", 1, 10)
        await asyncio.sleep(0.3)
    assert agent.texts == ["VPN怎么连接?"] and len(telegram.called("sendMessage")) == 1
    assert agent.messages[0].sender_id == "telegram:31:31"
    message = sent[0]
    assert message["chat_id"] == 31 and message["parse_mode"] == "HTML"
    assert '<a href="https://docs.example.com/kb/zh/it-vpn.md">VPN 使用指南</a>' in message["text"]
    assert "reply_parameters" not in message  # a private chat needs no reply marker


async def test_long_answers_are_split_under_the_limit_and_markup_is_text(telegram):
    agent = Agent()
    long_text = "\n".join(f"第 {i} 行 & <规定> " + "年假按工龄计算。" * 30 for i in range(60))
    agent.replies["long"] = [{"text": long_text}]
    channel = channel_for(telegram)
    async with serve(channel, agent) as url:
        assert await send(url, telegram.update("long answer please"), channel.secret) == 200
        sent = await asyncio.to_thread(telegram.wait_for, "sendMessage", 3, 15)
        await asyncio.sleep(0.5)
    shown = [visible_text(m["text"]) for m in telegram.called("sendMessage")]
    assert len(shown) >= 3 and len(sent) == len(shown)
    assert "\n".join(shown) == long_text  # the fake refused anything over 4,096


async def test_groups_are_answered_only_when_the_bot_is_addressed(telegram):
    agent = Agent()
    channel = channel_for(telegram)
    group = dict(chat_id=-100200, chat_type="supergroup")
    async with serve(channel, agent) as url:
        await asyncio.to_thread(telegram.wait_for, "getMe", 1, 10)
        chatter = telegram.update("anyone for lunch?", **group)
        mention = telegram.update(f"@{FakeTelegram.USERNAME} 年假有几天?", user_id=7, **group)
        reply = telegram.update("and for contractors?", user_id=8, reply_to_message={
            "message_id": 5, "from": {"id": FakeTelegram.BOT_ID, "is_bot": True}}, **group)
        for update in (chatter, mention, reply):
            assert await send(url, update, channel.secret) == 200
        sent = await asyncio.to_thread(telegram.wait_for, "sendMessage", 2, 10)
        await asyncio.sleep(0.3)
    assert sorted(agent.texts) == ["and for contractors?", "年假有几天?"]
    assert {m.sender_id for m in agent.messages} == {"telegram:-100200:7", "telegram:-100200:8"}
    replied_to = {m["reply_parameters"]["message_id"] for m in sent}
    assert replied_to == {mention["message"]["message_id"], reply["message"]["message_id"]}


async def test_stickers_bots_edits_and_bad_bodies_get_no_answer_and_no_crash(telegram):
    agent = Agent()
    channel = channel_for(telegram)
    async with serve(channel, agent) as url:
        sticker = telegram.update(None, sticker={"file_id": "CAAC", "emoji": "👍"})
        group_photo = telegram.update(None, chat_id=-5, chat_type="group", photo=[{}])
        from_bot = telegram.update("hi")
        from_bot["message"]["from"]["is_bot"] = True
        edit = {"update_id": 9, "edited_message": telegram.update("edit")["message"]}
        for update in (sticker, group_photo, from_bot, edit):
            assert await send(url, update, channel.secret) == 200
        async with aiohttp.ClientSession() as session:
            for body in (b"{oops", b"[]", b'{"update_id": "x"}'):
                async with session.post(f"{url}/webhook", data=body,
                                        headers={SECRET_HEADER: channel.secret}) as reply:
                    assert reply.status == 400
        notes = await asyncio.to_thread(telegram.wait_for, "sendMessage", 1, 10)
        await asyncio.sleep(0.3)
    assert agent.messages == []
    assert [visible_text(n["text"]) for n in telegram.called("sendMessage")] == [TEXT_ONLY_NOTE]
    assert notes[0]["chat_id"] == sticker["message"]["chat"]["id"]


async def test_start_and_help_commands_are_read_as_what_they_mean(telegram):
    agent = Agent()
    channel = channel_for(telegram)
    async with serve(channel, agent) as url:
        for text in ("/start", "/help", "/restart"):
            await send(url, telegram.update(text), channel.secret)
        await agent.wait_for(3)
    assert agent.texts[:2] == ["hello", "what can you do?"]
    assert agent.texts[2] != "/restart" and agent.texts[2].endswith("/restart")  # text, not intent
