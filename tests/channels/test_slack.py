"""The Slack channel against signed event requests built as Slack builds them and a
local server speaking Slack's Web API."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from channels.platform import TEXT_ONLY_NOTE
from channels.slack import SlackChannel, readable, signature, verify
from tests.channels.serving import VPN_ANSWER, Agent, serve
from tests.fakes.platforms import FakeSlack

# Slack's worked example (docs: "Verifying requests from Slack").
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
    "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977008"
    "85554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c"
    "447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_the_signature_is_slacks_own_worked_example():
    assert signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY.encode()) == DOC_SIGNATURE
    now = int(DOC_TIMESTAMP) + 60
    assert verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY.encode(), now) is None
    assert "window" in verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY.encode(),
                              int(DOC_TIMESTAMP) + 301)
    assert "match" in verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY.encode() + b" ",
                             now)
    assert "missing" in verify(DOC_SECRET, None, DOC_SIGNATURE, b"", now)
    assert "malformed" in verify(DOC_SECRET, "soon", DOC_SIGNATURE, b"", now)


def test_a_message_is_read_as_the_user_wrote_it():
    assert readable("<@UBOT> VPN &amp; Wi-Fi &lt;3", "UBOT") == "VPN & Wi-Fi <3"
    assert readable("ask <@U2|lin> about <#C1|general> and <https://x.example|the wiki>",
                    "UBOT") == "ask @lin about #general and the wiki"


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def channel_for(fake: FakeSlack, **options) -> SlackChannel:
    return SlackChannel.from_credentials({
        "bot_token": fake.token, "signing_secret": fake.signing_secret, "api_url": fake.api_url,
        "source_base_url": "https://docs.example.com/kb", **options})


async def post(url, body: bytes, headers) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhook", data=body, headers=headers) as reply:
            await reply.read()
            return reply


async def test_unsigned_forged_and_old_requests_are_refused_unprocessed(slack):
    agent = Agent()
    async with serve(channel_for(slack), agent) as url:
        body, _ = slack.event("VPN怎么连接?")
        forged = dict(slack.sign(body), **{"X-Slack-Signature": "v0=" + "0" * 64})
        old = slack.sign(body, timestamp=int(time.time()) - 6 * 60)
        for headers in ({"Content-Type": "application/json"}, forged, old):
            assert (await post(url, body, headers)).status == 401
        # Signed for another body: the same headers do not carry over.
        other, _ = slack.event("hello")
        assert (await post(url, other, slack.sign(body))).status == 401
        await asyncio.sleep(0.3)
    assert agent.messages == [] and slack.called("chat.postMessage") == []


async def test_url_verification_answers_the_challenge_only_when_signed(slack):
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd",
                       "type": "url_verification"}).encode()
    async with serve(channel_for(slack), Agent()) as url:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/webhook", data=body,
                                    headers=slack.sign(body)) as reply:
                assert reply.status == 200
                assert (await reply.json())["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd"
        assert (await post(url, body, {})).status == 401


async def test_the_event_is_acknowledged_before_the_answer_and_answered_in_its_thread(slack):
    agent = Agent()
    agent.gate.clear()  # the answer takes as long as the test wants
    agent.replies["VPN"] = [{"text": "ignored display text", "answer": VPN_ANSWER}]
    async with serve(channel_for(slack), agent) as url:
        body, ts = slack.event("<@UBOT0001> VPN怎么连接?", kind="app_mention", channel="C0GENERAL")
        reply = await post(url, body, slack.sign(body))
        assert reply.status == 200  # acknowledged while the answer is still being made
        await agent.wait_for(1)
        assert slack.called("chat.postMessage") == []
        agent.gate.set()
        posted = await asyncio.to_thread(slack.wait_for, "chat.postMessage", 1, 10)
    assert agent.texts == ["VPN怎么连接?"]  # the bot's mention is not part of the question
    assert agent.messages[0].sender_id == f"slack:{FakeSlack.TEAM}:C0GENERAL:U0USER01"
    message = posted[0]
    assert message["channel"] == "C0GENERAL" and message["thread_ts"] == ts
    assert "<https://docs.example.com/kb/zh/it-vpn.md|VPN 使用指南>" in message["text"]
    assert message["text"].startswith("连接 VPN") and "*来源:*" in message["text"]


async def test_retries_and_duplicate_events_get_no_second_answer(slack):
    agent = Agent()
    async with serve(channel_for(slack), agent) as url:
        body, _ = slack.event("hello")
        assert (await post(url, body, slack.sign(body))).status == 200
        for reason in ("http_timeout", "http_error", "connection_failed"):
            retry = dict(slack.sign(body), **{"X-Slack-Retry-Num": "1",
                                              "X-Slack-Retry-Reason": reason})
            assert (await post(url, body, retry)).status == 200
        assert (await post(url, body, slack.sign(body))).status == 200  # same event_id again
        # A retry whose first delivery never arrived is the only delivery: answered.
        lost, _ = slack.event("what can you do?")
        retry = dict(slack.sign(lost), **{"X-Slack-Retry-Num": "2"})
        assert (await post(url, lost, retry)).status == 200
        await asyncio.to_thread(slack.wait_for, "chat.postMessage", 2, 10)
        await asyncio.sleep(0.5)
    assert agent.texts == ["hello", "what can you do?"]
    assert len(slack.called("chat.postMessage")) == 2


async def test_bot_messages_edits_and_unaddressed_channel_messages_are_not_answered(slack):
    agent = Agent()
    async with serve(channel_for(slack), agent) as url:
        ignored = [
            slack.event("I am a bot", bot_id="B999")[0],
            slack.event("my own reply", user=FakeSlack.BOT_USER)[0],
            slack.event("edited", subtype="message_changed")[0],
            slack.event("joined", subtype="channel_join")[0],
            slack.event("chatter in a channel", channel="C0GENERAL", channel_type="channel")[0],
            slack.event("   ")[0],
            slack.event("", subtype="file_share", channel="C0GENERAL", channel_type="channel",
                        files=[{"id": "F1", "name": "a.png"}])[0],
        ]
        unknown = json.dumps({"type": "event_callback", "event_id": "Ev1",
                              "event": {"type": "reaction_added", "user": "U1"}}).encode()
        for body in ignored + [unknown, json.dumps({"type": "app_rate_limited"}).encode()]:
            assert (await post(url, body, slack.sign(body))).status == 200
        malformed = b"{not json"
        assert (await post(url, malformed, slack.sign(malformed))).status == 400
        wrong_shape = b"[1, 2]"
        assert (await post(url, wrong_shape, slack.sign(wrong_shape))).status == 400
        await asyncio.sleep(0.5)
    assert agent.messages == [] and slack.called("chat.postMessage") == []


async def test_a_direct_message_with_only_a_file_gets_a_note_not_an_answer(slack):
    agent = Agent()
    async with serve(channel_for(slack), agent) as url:
        body, ts = slack.event("", subtype="file_share", files=[{"id": "F1", "name": "a.png"}])
        assert (await post(url, body, slack.sign(body))).status == 200
        with_text, _ = slack.event("what is in this file?", subtype="file_share",
                                   files=[{"id": "F2"}])
        assert (await post(url, with_text, slack.sign(with_text))).status == 200
        await asyncio.to_thread(slack.wait_for, "chat.postMessage", 2, 10)
    assert agent.texts == ["what is in this file?"]  # the text of a file share is read
    note = [p for p in slack.called("chat.postMessage") if p["thread_ts"] == ts]
    assert [p["text"] for p in note] == [TEXT_ONLY_NOTE]


async def test_one_conversation_per_user_and_channel(slack):
    agent = Agent()
    async with serve(channel_for(slack), agent) as url:
        for user, channel in (("U1", "D1"), ("U2", "D2"), ("U1", "C9")):
            kind = "message" if channel.startswith("D") else "app_mention"
            body, _ = slack.event(f"<@UBOT0001> hi from {user}", user=user, channel=channel,
                                  kind=kind)
            await post(url, body, slack.sign(body))
        await agent.wait_for(3)
    assert sorted(m.sender_id for m in agent.messages) == sorted(
        f"slack:{FakeSlack.TEAM}:{c}:{u}" for u, c in (("U1", "D1"), ("U2", "D2"), ("U1", "C9")))


async def test_replies_are_escaped_split_and_posted_past_a_rate_limit(slack):
    agent = Agent()
    long_text = "\n\n".join(f"段落 {i}: " + "规定" * 400 for i in range(6))
    agent.replies["long"] = [{"text": long_text}]
    agent.replies["markup"] = [{"text": "<!channel> a < b & <script>x</script>",
                                "buttons": [{"title": "Yes", "payload": "/affirm"}]}]
    slack.rate_limit_next = 1
    async with serve(channel_for(slack), agent) as url:
        for text in ("long please", "markup please"):
            body, _ = slack.event(text)
            await post(url, body, slack.sign(body))
        await asyncio.to_thread(slack.wait_for, "chat.postMessage", 3, 15)
        await asyncio.sleep(0.3)
    texts = [p["text"] for p in slack.called("chat.postMessage")]
    markup = [t for t in texts if "script" in t][0]
    assert "<" not in markup and "&lt;!channel&gt;" in markup  # no @channel ping, no tags
    assert "Yes" in markup and "/affirm" not in markup
    pieces = [t for t in texts if "段落" in t]
    assert len(pieces) > 1 and all(len(t) <= 3_900 for t in pieces)
    assert "".join(pieces).replace("\n", "") == long_text.replace("\n", "")
