"""A local HTTP server that speaks OpenAI's chat completions wire format.

Hosted LLMs cannot be reached from the test machines. This server answers
`POST /v1/chat/completions` like OpenAI does (same request and response shapes,
same error body), counts its calls and can fail on purpose, so that the production
client runs unchanged against it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Text


def _first_passage_sentence(messages: List[Dict[Text, Any]]) -> Text:
    """A grounded-looking default reply: the first passage's first line, cited."""
    content = messages[-1]["content"] if messages else ""
    if content.startswith("[1] "):
        lines = content.split("\n")
        if len(lines) > 1 and lines[1].strip():
            return f"{lines[1].strip()} [1]"
    return "I don't know."


class FakeOpenAI:
    """Runs the fake server on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, reply: Callable[[List[Dict[Text, Any]]], Text] = _first_passage_sentence):
        self.reply = reply
        self.requests: List[Dict[Text, Any]] = []
        self.statuses: List[int] = []  # answered in order before normal replies
        self.retry_after: Optional[Text] = None
        self.delay_seconds = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                if self.path != "/v1/chat/completions":
                    return self._error(404, "Unknown request URL", "invalid_request_error")
                if fake.statuses:
                    status = fake.statuses.pop(0)
                    return self._error(status, f"fake status {status}", "server_error")
                if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                    return self._error(400, "'messages' is required", "invalid_request_error")
                text = fake.reply(body["messages"])
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                                  "total_tokens": 15},
                    },
                )

            def _error(self, status: int, text: Text, kind: Text) -> None:
                headers = {"Retry-After": fake.retry_after} if fake.retry_after else {}
                self._send(status, {"error": {"message": text, "type": kind, "code": None}},
                           headers)

            def _send(self, status: int, body: Dict[Text, Any],
                      headers: Optional[Dict[Text, Text]] = None) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> Text:
        """The `/v1` base URL to configure the client with."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def calls(self) -> int:
        """Chat completion requests received."""
        return sum(1 for r in self.requests if r["path"] == "/v1/chat/completions")

    def start(self) -> FakeOpenAI:
        """Starts serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving."""
        self._server.shutdown()
        self._server.server_close()
