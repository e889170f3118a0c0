"""The WeCom channel: WeCom's own sample vectors, and callbacks encrypted as WeCom
encrypts them against a local server speaking WeCom's API."""

from __future__ import annotations

import asyncio
from typing import Tuple

import aiohttp
import pytest

from bilingual_assistant.errors import ConfigurationError
from channels.platform import TEXT_ONLY_NOTE
from channels.wecom import WeComChannel, parse_xml
from channels.wecom_crypto import CallbackError, WeComCrypto, signature
from tests.channels.serving import VPN_ANSWER, Agent, serve
from tests.fakes.platforms import FakeWeCom

# The sample in WeCom's WXBizMsgCrypt SDKs (token, EncodingAESKey, CorpID and a
# callback encrypted by WeCom).
SAMPLE_TOKEN, SAMPLE_KEY = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_CORP = "wx5823bf96d3bd56c7"
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdC"
    "Upj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4X"
    "gpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+K"
    "qCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XX"
    "ZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHB"
    "ZZIs2pDBS8R07+qN+E7Q=="
)
SAMPLE_ECHO = ("P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+"
               "FZXvnaqQ==")


def test_wecoms_sample_callback_verifies_and_decrypts():
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP)
    assert signature(SAMPLE_TOKEN, "1409659813", "1372623149", SAMPLE_ENCRYPT) == \
        "477715d11cdb4164915debcba66cb864d751f3e6"
    message = parse_xml(crypto.open("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813",
                                    "1372623149", SAMPLE_ENCRYPT).encode())
    assert message["FromUserName"] == "mycreate" and message["Content"] == "hello"
    assert message["MsgType"] == "text" and message["MsgId"] == "4561255354251345929"
    echo = crypto.open("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
                       SAMPLE_ECHO)
    assert echo.isdigit()


def test_forged_tampered_and_foreign_callbacks_are_refused():
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP)
    with pytest.raises(CallbackError, match="signature"):
        crypto.open("0" * 40, "1409659813", "1372623149", SAMPLE_ENCRYPT)
    tampered = SAMPLE_ENCRYPT[:40] + ("A" if SAMPLE_ENCRYPT[40] != "A" else "B") + \
        SAMPLE_ENCRYPT[41:]
    with pytest.raises(CallbackError):
        WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP).decrypt(tampered)
    with pytest.raises(CallbackError, match="another company"):
        WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, "ww-other-corp").decrypt(SAMPLE_ENCRYPT)
    for garbage in ("not base64!", "QUJD"):
        with pytest.raises(CallbackError):
            crypto.decrypt(garbage)
    with pytest.raises(ConfigurationError, match="43 characters"):
        WeComCrypto("t", "short", SAMPLE_CORP)
    with pytest.raises(CallbackError, match="DOCTYPE"):
        parse_xml(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><a>&a;</a></xml>')


@pytest.fixture
def wecom():
    fake = FakeWeCom().start()
    yield fake
    fake.stop()


def channel_for(fake: FakeWeCom) -> WeComChannel:
    return WeComChannel.from_credentials({
        "corp_id": fake.corp_id, "agent_id": str(fake.agent_id), "secret": fake.secret,
        "token": fake.token, "encoding_aes_key": fake.encoding_aes_key, "api_url": fake.url,
        "source_base_url": "https://docs.example.com/kb"})


async def deliver(url: str, callback: Tuple[str, bytes, int]) -> Tuple[int, str]:
    query, body, _ = callback
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhook?{query}", data=body) as reply:
            return reply.status, await reply.text()


async def test_the_callback_url_is_verified_with_echostr(wecom):
    async with serve(channel_for(wecom), Agent()) as url:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/webhook?{wecom.verification('8837265')}") as reply:
                assert reply.status == 200 and await reply.text() == "8837265"
            forged = wecom.verification("1").replace("msg_signature=", "msg_signature=0")
            async with session.get(f"{url}/webhook?{forged}") as reply:
                assert reply.status == 403 and "1" not in await reply.text()
            async with session.get(f"{url}/webhook") as reply:
                assert reply.status == 400


def test_the_agent_id_must_be_a_number(wecom):
    with pytest.raises(ConfigurationError, match="AgentId"):
        WeComChannel.from_credentials({
            "corp_id": "c", "agent_id": "app", "secret": "s", "token": "t",
            "encoding_aes_key": wecom.encoding_aes_key})


async def test_a_message_is_acknowledged_at_once_and_answered_through_the_api(wecom):
    agent = Agent()
    agent.gate.clear()
    agent.replies["VPN"] = [{"text": "display", "answer": VPN_ANSWER}]
    async with serve(channel_for(wecom), agent) as url:
        callback = wecom.callback("VPN怎么连接?", user="lisi")
        assert await deliver(url, callback) == (200, "")  # before the answer exists
        await agent.wait_for(1)
        assert wecom.called("message/send") == []
        assert await deliver(url, callback) == (200, "")  # WeCom's resend after 5 s
        agent.gate.set()
        sent = await asyncio.to_thread(wecom.wait_for, "message/send", 1, 10)
        await asyncio.sleep(0.3)
    assert agent.texts == ["VPN怎么连接?"] and len(wecom.called("message/send")) == 1
    assert agent.messages[0].sender_id == f"wecom:{wecom.agent_id}:lisi"
    assert sent[0]["touser"] == "lisi" and sent[0]["agentid"] == wecom.agent_id
    content = sent[0]["text"]["content"]
    assert content.startswith("连接 VPN")
    assert '<a href="https://docs.example.com/kb/zh/it-vpn.md">VPN 使用指南</a>' in content


async def test_the_access_token_is_cached_and_renewed_when_refused(wecom):
    agent = Agent()
    async with serve(channel_for(wecom), agent) as url:
        for count, text in enumerate(("hello", "年假有几天?"), start=1):
            await deliver(url, wecom.callback(text))
            await agent.wait_for(count)
        await asyncio.to_thread(wecom.wait_for, "message/send", 2, 10)
        assert wecom.tokens_issued == 1  # one token for both answers
        wecom.expire_token()
        await deliver(url, wecom.callback("谢谢"))
        await asyncio.to_thread(wecom.wait_for, "message/send", 3, 10)
    assert wecom.tokens_issued == 2


async def test_long_answers_are_split_under_wecoms_byte_limit(wecom):
    agent = Agent()
    long_text = "\n".join(f"第{i}条：报销须在费用发生后30天内提交。" * 8 for i in range(30))
    agent.replies["long"] = [{"text": long_text}]
    async with serve(channel_for(wecom), agent) as url:
        await deliver(url, wecom.callback("long answer"))
        await asyncio.to_thread(wecom.wait_for, "message/send", 3, 15)
        await asyncio.sleep(0.5)
    pieces = [m["text"]["content"] for m in wecom.called("message/send")]
    assert all(len(p.encode()) <= 2048 for p in pieces)  # the fake refuses more
    assert "\n".join(pieces) == long_text


async def test_pictures_events_and_bad_callbacks_get_no_answer_and_no_crash(wecom):
    agent = Agent()
    async with serve(channel_for(wecom), agent) as url:
        assert (await deliver(url, wecom.callback(msg_type="image")))[0] == 200
        event = ("<xml><ToUserName>c</ToUserName><FromUserName>zhangsan</FromUserName>"
                 "<CreateTime>1</CreateTime><MsgType>event</MsgType>"
                 "<Event>enter_agent</Event></xml>")
        assert (await deliver(url, wecom.callback(inner_xml=event)))[0] == 200
        query, body, _ = wecom.callback("hello")
        forged = query.replace("msg_signature=", "msg_signature=f")
        async with aiohttp.ClientSession() as session:
            for q, b, status in ((forged, body, 403), (query, b"<xml><oops", 400),
                                 (query, b"<xml><Encrypt></Encrypt></xml>", 400),
                                 (query, b'<!DOCTYPE x [<!ENTITY a "a">]><xml/>', 400)):
                async with session.post(f"{url}/webhook?{q}", data=b) as reply:
                    assert reply.status == status
        notes = await asyncio.to_thread(wecom.wait_for, "message/send", 1, 10)
        await asyncio.sleep(0.3)
    assert agent.messages == []
    assert [n["text"]["content"] for n in notes] == [TEXT_ONLY_NOTE]


async def test_a_recorded_callback_replayed_later_is_refused(wecom):
    agent = Agent()
    async with serve(channel_for(wecom), agent) as url:
        status, _ = await deliver(url, wecom.callback("VPN?", age_seconds=600))
        assert status == 403
        assert await deliver(url, wecom.callback("VPN?", age_seconds=60)) == (200, "")
        await agent.wait_for(1)
    assert agent.texts == ["VPN?"]


def test_a_documents_title_cannot_add_markup_or_another_link(wecom):
    from channels.wecom import WeComOutput

    output = WeComOutput(None, "lisi", 'https://docs.example.com/kb')
    rendered = output.render_answer({
        "text": "答案 [1]", "language": "zh", "sources": [{
            "number": 1, "source": 'zh/a".md',
            "title": '<a href="https://evil.example">点这里</a>'}]})
    assert rendered.splitlines()[-1] == (
        '[1] <a href="https://docs.example.com/kb/zh/a&quot;.md">'
        '&lt;a href="https://evil.example"&gt;点这里&lt;/a&gt;</a>')
