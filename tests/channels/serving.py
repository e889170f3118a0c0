"""Runs a channel's blueprint in a real Sanic server in the test's event loop, as
`rasa run` mounts it (`/webhooks/<name>/`), with a stand-in for Rasa's agent."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic

VPN_ANSWER: Dict[Text, Any] = {
    "text": "连接 VPN：打开客户端，输入工号和密码 [1]。",
    "sources": [{"number": 1, "title": "VPN 使用指南", "source": "zh/it-vpn.md"}],
    "mode": "llm", "language": "zh", "cached": False, "query": "VPN怎么连接",
}


class Agent:
    """Stands in for Rasa's agent: records each message and replies through the
    message's output channel, after `gate` opens."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.replies: Dict[Text, List[Dict[Text, Any]]] = {}

    def reply(self, text: Text) -> List[Dict[Text, Any]]:
        for key, replies in self.replies.items():
            if key in text:
                return replies
        return [{"text": "好的 / OK"}]

    async def handle_message(self, message: UserMessage) -> None:
        """What Rasa's `register()` calls for each message."""
        self.messages.append(message)
        await self.gate.wait()
        for reply in self.reply(message.text or ""):
            await message.output_channel.send_response(message.sender_id, dict(reply))

    @property
    def texts(self) -> List[Text]:
        return [m.text or "" for m in self.messages]

    async def wait_for(self, count: int, seconds: float = 10) -> List[UserMessage]:
        for _ in range(int(seconds * 20)):
            if len(self.messages) >= count:
                return self.messages
            await asyncio.sleep(0.05)
        raise AssertionError(f"{count} message(s) expected, got {self.texts}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serve(channel: InputChannel, agent: Agent,
                max_body: Optional[int] = None) -> AsyncIterator[Text]:
    """The channel served on 127.0.0.1; yields its webhook's base URL."""
    # Test mode: Sanic rewrites its own methods for each app it starts, and a second
    # app in one process fails on the first one's rewrite unless it keeps the originals.
    Sanic.test_mode = True
    app = Sanic(f"test-{channel.name()}-{free_port()}")
    if max_body:
        app.config.REQUEST_MAX_SIZE = max_body
    register([channel], app, route="/webhooks/")
    app.ctx.agent = agent  # register()'s callback calls app.ctx.agent.handle_message
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port,
                                     return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/{channel.name()}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
