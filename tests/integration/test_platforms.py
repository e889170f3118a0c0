"""Slack, Telegram and WeCom end to end: requests built as each platform builds them
(signed, secret-carrying, encrypted) go to the running `rasa run`, which answers
through local servers speaking each platform's API. A conversation in Chinese and
one in English on each: a knowledge answer with its sources as links, and the
weather form asking for the missing city."""

from __future__ import annotations

import re
import time
from typing import Any, Callable, List, Text

import pytest
import requests

from tests.fakes.platforms import FakeApi, visible_text
from tests.integration.conftest import SOURCE_BASE_URL

pytestmark = pytest.mark.slow

REPORT_ZH = re.compile(r"^北京今天：.+，气温 -?\d+°C 到 -?\d+°C，降水概率 \d+%。$")
REPORT_EN = re.compile(r"^London, today: .+, -?\d+°C to -?\d+°C, \d+% chance of rain\.$")
CONVERSATIONS = {
    "zh": [("VPN怎么连接?", "zh/it-vpn.md", "来源"),
           ("帮我查一下天气", "你想查询哪个城市的天气？", REPORT_ZH), ("北京",)],
    "en": [("How long do I have to submit my expenses?", "en/hr-expenses.html", "Sources"),
           ("what's the weather like?", "Which city would you like the weather for?",
            REPORT_EN), ("London",)],
}


def replies_after(fake: FakeApi, method: Text, before: int, where: Callable[[Any], bool],
                  seconds: float = 150) -> List[Any]:
    """The calls of `method` made for one turn: at least one, then none for 2 s."""
    found = fake.wait_for(method, before + 1, seconds, where)
    while True:
        time.sleep(2)
        again = [p for p in fake.called(method) if where(p)]
        if len(again) == len(found):
            return found[before:]
        found = again


class SlackUser:
    def __init__(self, servers: Any, user: Text) -> None:
        self.servers, self.fake, self.user = servers, servers.slack, user
        self.channel = f"D{user}"
        self.threads: List[Text] = []

    def mine(self, payload: Any) -> bool:
        return payload.get("channel") == self.channel

    def say(self, text: Text) -> List[Text]:
        before = len([p for p in self.fake.called("chat.postMessage") if self.mine(p)])
        body, ts = self.fake.event(text, user=self.user, channel=self.channel)
        reply = requests.post(f"{self.servers.rasa_url}/webhooks/slack/webhook", data=body,
                              headers=self.fake.sign(body), timeout=10)
        assert reply.status_code == 200, reply.text
        posted = replies_after(self.fake, "chat.postMessage", before, self.mine)
        assert all(p["thread_ts"] == ts for p in posted)  # in the user's thread
        return [p["text"] for p in posted]

    def link(self, source: Text) -> Text:
        return f"<{SOURCE_BASE_URL}/{source}|"


class TelegramUser:
    def __init__(self, servers: Any, user: Text) -> None:
        self.servers, self.fake = servers, servers.telegram
        self.user_id = 10_000 + sum(map(ord, user))
        registered = self.fake.wait_for("setWebhook", 1, 30)[0]
        self.secret = registered["secret_token"]

    def mine(self, payload: Any) -> bool:
        return payload.get("chat_id") == self.user_id

    def say(self, text: Text) -> List[Text]:
        before = len([p for p in self.fake.called("sendMessage") if self.mine(p)])
        update = self.fake.update(text, user_id=self.user_id)
        reply = requests.post(f"{self.servers.rasa_url}/webhooks/telegram/webhook",
                              json=update, timeout=10,
                              headers={"X-Telegram-Bot-Api-Secret-Token": self.secret})
        assert reply.status_code == 200, reply.text
        posted = replies_after(self.fake, "sendMessage", before, self.mine)
        return [p["text"] for p in posted]

    def link(self, source: Text) -> Text:
        return f'<a href="{SOURCE_BASE_URL}/{source}">'


class WeComUser:
    def __init__(self, servers: Any, user: Text) -> None:
        self.servers, self.fake, self.user = servers, servers.wecom, user

    def mine(self, payload: Any) -> bool:
        return payload.get("touser") == self.user

    def say(self, text: Text) -> List[Text]:
        before = len([p for p in self.fake.called("message/send") if self.mine(p)])
        query, body, _ = self.fake.callback(text, user=self.user)
        reply = requests.post(f"{self.servers.rasa_url}/webhooks/wecom/webhook?{query}",
                              data=body, timeout=10)
        assert reply.status_code == 200 and reply.text == "", reply.text
        posted = replies_after(self.fake, "message/send", before, self.mine)
        return [p["text"]["content"] for p in posted]

    def link(self, source: Text) -> Text:
        return f'<a href="{SOURCE_BASE_URL}/{source}">'


PLATFORMS = {"slack": SlackUser, "telegram": TelegramUser, "wecom": WeComUser}


def shown(platform: Text, text: Text) -> Text:
    """What the user reads (Telegram's messages are HTML)."""
    return visible_text(text) if platform == "telegram" else text


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_conversation_on_the_platform(servers, platform, language):
    user = PLATFORMS[platform](servers, f"{platform}{language}user")
    (question, source, label), (weather, ask_city, report), (city,) = CONVERSATIONS[language]
    [answer] = user.say(question)
    assert user.link(source) in answer, answer
    assert f"{label}:" in shown(platform, answer)
    assert [shown(platform, t) for t in user.say(weather)] == [ask_city]
    [forecast] = user.say(city)
    assert report.match(shown(platform, forecast)), forecast


def test_forged_requests_are_refused_by_the_running_server(servers):
    slack, url = servers.slack, servers.rasa_url
    body, _ = slack.event("VPN怎么连接?", user="UFORGER")
    old = slack.sign(body, timestamp=int(time.time()) - 600)
    assert requests.post(f"{url}/webhooks/slack/webhook", data=body, headers=old,
                         timeout=10).status_code == 401
    update = servers.telegram.update("hi", user_id=666)
    assert requests.post(f"{url}/webhooks/telegram/webhook", json=update, timeout=10,
                         headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}).status_code == 403
    query, body, _ = servers.wecom.callback("hi", user="forger")
    forged = query.replace("msg_signature=", "msg_signature=0")
    assert requests.post(f"{url}/webhooks/wecom/webhook?{forged}", data=body,
                         timeout=10).status_code == 403
    verification = servers.wecom.verification("5150")
    echoed = requests.get(f"{url}/webhooks/wecom/webhook?{verification}", timeout=10)
    assert echoed.status_code == 200 and echoed.text == "5150"
    time.sleep(2)
    assert not [p for p in slack.called("chat.postMessage") if p["channel"] == "DUFORGER"]
    assert not [p for p in servers.telegram.called("sendMessage") if p["chat_id"] == 666]
    assert not [p for p in servers.wecom.called("message/send") if p["touser"] == "forger"]


def test_telegram_webhook_was_set_at_start_up_with_its_secret(servers):
    [registered] = servers.telegram.wait_for("setWebhook", 1, 30)[:1]
    assert registered["url"] == f"{servers.rasa_url}/webhooks/telegram/webhook"
    assert len(registered["secret_token"]) >= 32
    assert servers.telegram.called("getMe")


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_other_languages_and_oversized_bodies_get_no_crash_and_no_echo(servers, platform):
    user = PLATFORMS[platform](servers, f"{platform}otheruser")
    text = "Здравствуйте, где находится столовая? <b>x</b>"
    replies = user.say(text)
    assert replies and all(text not in r and "<b>" not in r for r in replies)
    assert user.say("hello")  # the conversation goes on
    huge = b"{" + b'"x": "' + b"a" * 2_000_000 + b'"}'
    reply = requests.post(f"{servers.rasa_url}/webhooks/{platform}/webhook", data=huge,
                          timeout=30)
    assert reply.status_code == 413
