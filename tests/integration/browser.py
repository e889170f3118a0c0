"""A real headless Chromium (Debian's `chromium`), driven over the Chrome DevTools
Protocol with the `websockets` package Rasa's environment already has: pages load,
scripts run, keys are typed as a user types them."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional, Text

import requests
import websockets

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0"]


def chromium_path() -> Optional[Text]:
    """Debian's Chromium, if installed (`make test` installs it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless browser with one page."""

    def __init__(self, profile: Path) -> None:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("Chromium is not installed: apt-get install chromium")
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.process.stderr is not None
        for line in self.process.stderr:
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                self.port = int(found.group(1))
                break
        else:
            raise RuntimeError("Chromium exited before opening its DevTools port")
        pages = requests.get(f"http://127.0.0.1:{self.port}/json/list", timeout=10).json()
        self.page_url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        self._ids = itertools.count(1)
        self._socket: Any = None
        self.console: list = []

    async def __aenter__(self) -> Chromium:
        self._socket = await websockets.connect(self.page_url, max_size=None)
        for domain in ("Page", "Runtime"):
            await self.call(f"{domain}.enable")
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self._socket.close()
        self.process.terminate()
        self.process.wait(timeout=20)

    async def call(self, method: Text, **params: Any) -> Dict[Text, Any]:
        """Sends a DevTools command and returns its result (events are kept aside)."""
        number = next(self._ids)
        await self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self._socket.recv(), 60))
            if message.get("method") in ("Runtime.exceptionThrown", "Runtime.consoleAPICalled"):
                self.console.append(message["params"])
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: Text) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: Text, seconds: float = 120) -> Any:
        """Waits until an expression is truthy in the page; returns its value."""
        for _ in range(int(seconds * 4)):
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.25)
        raise AssertionError(f"still false after {seconds} s: {expression}")

    async def open(self, url: Text) -> None:
        await self.call("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'", 30)

    async def type_and_enter(self, selector: Text, text: Text) -> None:
        """Focuses a field, types the text as input events, presses Enter."""
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                            windowsVirtualKeyCode=13, nativeVirtualKeyCode=13,
                            **({"text": "\r"} if kind == "keyDown" else {}))

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
