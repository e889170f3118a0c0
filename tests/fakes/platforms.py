"""Local HTTP servers that speak Slack's Web API, Telegram's Bot API and WeCom's
API, and build the requests each platform sends to a webhook (signed, encrypted)
the way the platform builds them. None of the three can be reached from the test
machines; the production channels talk to these unchanged, pointed at them by
configuration (`SLACK_API_URL`, `TELEGRAM_API_URL`, `WECOM_API_URL`).

The signing and encryption here are written from the platforms' documentation,
apart from the production code, so a test checks the scheme, not an echo of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import re
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Text, Tuple
from urllib.parse import parse_qs, urlencode, urlparse

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

Route = Callable[[Text, Dict[Text, Text], Dict[Text, Text], bytes], Tuple[int, Any]]


class FakeApi:
    """A threaded JSON API server on 127.0.0.1 that records every call."""

    def __init__(self) -> None:
        self.calls: List[Dict[Text, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, reply = fake.route(url.path, query, dict(self.headers), body)
                data = json.dumps(reply, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def route(self, path: Text, query: Dict[Text, Text], headers: Dict[Text, Text],
              body: bytes) -> Tuple[int, Any]:
        raise NotImplementedError

    def record(self, method: Text, payload: Any) -> None:
        with self._lock:
            self.calls.append({"method": method, "payload": payload, "at": time.time()})

    def called(self, method: Text) -> List[Any]:
        with self._lock:
            return [c["payload"] for c in self.calls if c["method"] == method]

    def wait_for(self, method: Text, count: int, seconds: float = 120,
                 where: Callable[[Any], bool] = lambda payload: True) -> List[Any]:
        """The first `count` payloads of `method` that match `where`, waiting for them."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            found = [p for p in self.called(method) if where(p)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} {method} call(s) expected within {seconds} s; "
                             f"got {[p for p in self.called(method) if where(p)]}")

    def start(self) -> FakeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- Slack -----------------------------------------------------------------------------

class FakeSlack(FakeApi):
    """Slack's Web API (`auth.test`, `chat.postMessage`) at `{url}/api`, and Slack's
    side of the Events API: signed event requests."""

    BOT_USER = "UBOT0001"
    TEAM = "T0TEAM01"

    def __init__(self, token: Text = "xoxb-fake",
                 signing_secret: Text = "8f742231b10e8888abcd99yyyzzz85a5") -> None:
        super().__init__()
        self.token, self.signing_secret = token, signing_secret
        self.rate_limit_next = 0  # answer this many calls with 429 first
        self._ts = 1_700_000_000.000100

    @property
    def api_url(self) -> Text:
        return f"{self.url}/api"

    def route(self, path: Text, query: Dict[Text, Text], headers: Dict[Text, Text],
              body: bytes) -> Tuple[int, Any]:
        method = path.rsplit("/", 1)[-1]
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return 429, {"ok": False, "error": "ratelimited"}
        payload = json.loads(body or b"{}")
        if method == "auth.test":
            self.record(method, payload)
            return 200, {"ok": True, "user_id": self.BOT_USER, "team_id": self.TEAM,
                         "user": "assistant", "bot_id": "B0BOT001"}
        if method == "chat.postMessage":
            if not payload.get("channel") or not payload.get("text"):
                return 200, {"ok": False, "error": "no_text"}
            self.record(method, payload)
            self._ts += 1
            return 200, {"ok": True, "channel": payload["channel"], "ts": f"{self._ts:.6f}"}
        return 404, {"ok": False, "error": "unknown_method"}

    def sign(self, body: bytes, timestamp: Optional[int] = None) -> Dict[Text, Text]:
        """The headers Slack sends with a request body."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(self.signing_secret.encode(), f"v0:{stamp}:".encode() + body,
                          hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}",
                "Content-Type": "application/json"}

    def event(self, text: Text, user: Text = "U0USER01", channel: Text = "D0DM0001",
              kind: Text = "message", channel_type: Text = "im", thread_ts: Optional[Text] = None,
              **extra: Any) -> Tuple[bytes, Text]:
        """An `event_callback` body as Slack sends it, and its message's `ts`."""
        self._ts += 1
        ts = f"{self._ts:.6f}"
        event: Dict[Text, Any] = {"type": kind, "user": user, "text": text, "ts": ts,
                                  "channel": channel, "event_ts": ts, "team": self.TEAM}
        if kind == "message":
            event["channel_type"] = channel_type
        if thread_ts:
            event["thread_ts"] = thread_ts
        event.update(extra)
        body = {"token": "legacy-verification-token", "team_id": self.TEAM,
                "api_app_id": "A0APP001", "event": event, "type": "event_callback",
                "event_id": "Ev" + os.urandom(5).hex().upper(), "event_time": int(time.time()),
                "authorizations": [{"team_id": self.TEAM, "user_id": self.BOT_USER,
                                    "is_bot": True}]}
        return json.dumps(body, ensure_ascii=False).encode(), ts


# --- Telegram --------------------------------------------------------------------------

_ALLOWED_TAGS = {"a", "b", "strong", "i", "em", "u", "s", "code", "pre", "blockquote"}


def visible_text(text: Text) -> Text:
    """What Telegram shows of an HTML message: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class FakeTelegram(FakeApi):
    """Telegram's Bot API (`getMe`, `setWebhook`, `sendMessage`) at `{url}/bot<token>/`,
    with Telegram's checks on messages (length after entity parsing, HTML tags)."""

    BOT_ID = 7000001
    USERNAME = "kb_assistant_bot"

    def __init__(self, token: Text = "7000001:AAtest-token") -> None:
        super().__init__()
        self.token = token
        self._update_id = 500_000
        self._message_id = 100

    def route(self, path: Text, query: Dict[Text, Text], headers: Dict[Text, Text],
              body: bytes) -> Tuple[int, Any]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix):]
        payload = json.loads(body or b"{}")
        if method == "getMe":
            self.record(method, payload)
            return 200, {"ok": True, "result": {"id": self.BOT_ID, "is_bot": True,
                                                "first_name": "Assistant",
                                                "username": self.USERNAME}}
        if method == "setWebhook":
            self.record(method, payload)
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "sendMessage":
            problem = self._check_message(payload)
            if problem:
                return 400, {"ok": False, "error_code": 400, "description": problem}
            self.record(method, payload)
            self._message_id += 1
            return 200, {"ok": True, "result": {"message_id": self._message_id,
                                                "chat": {"id": payload["chat_id"]},
                                                "text": visible_text(payload["text"])}}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    @staticmethod
    def _check_message(payload: Dict[Text, Any]) -> Optional[Text]:
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return "Bad Request: message text is empty"
        if payload.get("parse_mode") == "HTML":
            for tag in re.findall(r"</?([a-zA-Z0-9-]+)", text):
                if tag.lower() not in _ALLOWED_TAGS:
                    return f"Bad Request: can't parse entities: unsupported tag {tag}"
            if re.search(r"&(?![a-zA-Z]+;|#\d+;)", text) or re.search(r"<(?![/a-zA-Z])", text):
                return "Bad Request: can't parse entities"
            shown = visible_text(text)
        else:
            shown = text
        if len(shown.encode("utf-16-le")) // 2 > 4096:
            return "Bad Request: message is too long"
        return None

    def update(self, text: Optional[Text] = None, user_id: int = 4242,
               chat_id: Optional[int] = None, chat_type: Text = "private",
               **message_extra: Any) -> Dict[Text, Any]:
        """An update as Telegram posts it to a webhook."""
        self._update_id += 1
        self._message_id += 1
        chat = chat_id if chat_id is not None else user_id
        message: Dict[Text, Any] = {
            "message_id": self._message_id, "date": int(time.time()),
            "from": {"id": user_id, "is_bot": False, "first_name": "Wei", "language_code": "zh"},
            "chat": {"id": chat, "type": chat_type},
        }
        if text is not None:
            message["text"] = text
        message.update(message_extra)
        return {"update_id": self._update_id, "message": message}


# --- WeCom -----------------------------------------------------------------------------

class FakeWeCom(FakeApi):
    """WeCom's API (`/cgi-bin/gettoken`, `/cgi-bin/message/send`), and WeCom's side of
    the callback protocol: signed, AES-encrypted callbacks."""

    def __init__(self, corp_id: Text = "ww0123456789abcdef", secret: Text = "wecom-app-secret",
                 agent_id: int = 1000002, token: Text = "QDG6eK",
                 encoding_aes_key: Text = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C") -> None:
        super().__init__()
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.token, self.encoding_aes_key = token, encoding_aes_key
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.tokens_issued = 0
        self.access_token = ""
        self._msg_id = 7_000_000_000_000_000_000

    def route(self, path: Text, query: Dict[Text, Text], headers: Dict[Text, Text],
              body: bytes) -> Tuple[int, Any]:
        if path == "/cgi-bin/gettoken":
            if query.get("corpid") != self.corp_id or query.get("corpsecret") != self.secret:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            self.tokens_issued += 1
            self.access_token = f"ACCESS-{self.tokens_issued}-{os.urandom(4).hex()}"
            self.record("gettoken", {})
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": self.access_token,
                         "expires_in": 7200}
        if path == "/cgi-bin/message/send":
            if not self.access_token or query.get("access_token") != self.access_token:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            payload = json.loads(body or b"{}")
            content = (payload.get("text") or {}).get("content", "")
            if payload.get("agentid") != self.agent_id:
                return 200, {"errcode": 40056, "errmsg": "invalid agentid"}
            if not content or len(content.encode("utf-8")) > 2048:
                return 200, {"errcode": 44004, "errmsg": "empty content or over 2048 bytes"}
            self.record("message/send", payload)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": os.urandom(8).hex()}
        return 404, {"errcode": 404, "errmsg": "not found"}

    def expire_token(self) -> None:
        """WeCom ends the current access token (it expired, or was reset)."""
        self.access_token = "expired-before-its-time"

    def _encrypt(self, message: Text) -> Text:
        body = message.encode("utf-8")
        plain = os.urandom(16) + struct.pack(">I", len(body)) + body + self.corp_id.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def _signature(self, timestamp: Text, nonce: Text, encrypted: Text) -> Text:
        return hashlib.sha1("".join(sorted([self.token, timestamp, nonce, encrypted]))
                            .encode()).hexdigest()

    def verification(self, echo: Text = "1616140317555161061") -> Text:
        """The query WeCom sends to check a callback URL (`echo` is what it expects back)."""
        timestamp, nonce = str(int(time.time())), os.urandom(4).hex()
        encrypted = self._encrypt(echo)
        return urlencode({"msg_signature": self._signature(timestamp, nonce, encrypted),
                          "timestamp": timestamp, "nonce": nonce, "echostr": encrypted})

    def callback(self, content: Optional[Text] = None, user: Text = "zhangsan",
                 msg_type: Text = "text", msg_id: Optional[int] = None,
                 inner_xml: Optional[Text] = None,
                 age_seconds: int = 0) -> Tuple[Text, bytes, int]:
        """`(query, body, msg_id)` of a callback as WeCom posts it for a user's message
        (`age_seconds` ago: a replayed one)."""
        if msg_id is None:
            self._msg_id += 1
            msg_id = self._msg_id
        now = int(time.time()) - age_seconds
        if inner_xml is None:
            fields = (f"<Content><![CDATA[{content}]]></Content>" if msg_type == "text" else
                      "<PicUrl><![CDATA[https://example.com/p.jpg]]></PicUrl>"
                      "<MediaId><![CDATA[media-1]]></MediaId>")
            inner_xml = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
                         f"<FromUserName><![CDATA[{user}]]></FromUserName>"
                         f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[{msg_type}]]>"
                         f"</MsgType>{fields}<MsgId>{msg_id}</MsgId>"
                         f"<AgentID>{self.agent_id}</AgentID></xml>")
        encrypted = self._encrypt(inner_xml)
        timestamp, nonce = str(now), os.urandom(4).hex()
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
                f"<AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>").encode()
        query = urlencode({"msg_signature": self._signature(timestamp, nonce, encrypted),
                           "timestamp": timestamp, "nonce": nonce})
        return query, body, msg_id
