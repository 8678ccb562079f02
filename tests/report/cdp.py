"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe``.

No websocket library and no browser download: Debian's ``chromium`` reads CDP commands
from file descriptor 3 and writes replies and events to descriptor 4, each message a
JSON object terminated by a NUL byte. A shell ``exec`` moves our pipes to those
descriptors. One page, flat sessions, events kept in order for the test to inspect.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shlex
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Browser", "chromium_path", "FLAGS"]

#: flags that work headless, as root, with no network
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)
#: how long one CDP command may take
COMMAND_TIMEOUT = 60.0


def chromium_path() -> str | None:
    """The Chromium binary, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless Chromium driven over the CDP pipe. ``async with Browser() as b: ...``."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.events: list[dict[str, Any]] = []
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._event_waiters: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
        self.session: str | None = None

    async def __aenter__(self) -> Browser:
        self._profile = tempfile.TemporaryDirectory(prefix="ideamine-chromium-")
        flags = " ".join(
            shlex.quote(f) for f in (*FLAGS, f"--user-data-dir={self._profile.name}", "about:blank")
        )
        # fd 3 <- our stdin pipe (commands), fd 4 -> our stdout pipe (replies); then give
        # the browser /dev/null and stderr so nothing it prints can corrupt the protocol.
        script = f"exec {shlex.quote(self.binary)} {flags} 3<&0 4>&1 0</dev/null 1>&2"
        self.proc = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            script,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=1 << 28,
        )
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.send(f"{domain}.enable")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await asyncio.wait_for(self.send("Browser.close", session=False), 10)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        self._profile.cleanup()

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                raw = await self.proc.stdout.readuntil(b"\0")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                for fut in self._waiting.values():
                    if not fut.done():
                        fut.set_exception(RuntimeError("chromium closed the DevTools pipe"))
                return
            msg = json.loads(raw[:-1])
            if "id" in msg and msg["id"] in self._waiting:
                self._waiting.pop(msg["id"]).set_result(msg)
                continue
            self.events.append(msg)
            for method, fut in list(self._event_waiters):
                if msg.get("method") == method and not fut.done():
                    fut.set_result(msg)
                    self._event_waiters.remove((method, fut))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True
    ) -> dict[str, Any]:
        """Send one command and return its result; raise on a protocol error."""
        assert self.proc.stdin is not None
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = fut
        self.proc.stdin.write(json.dumps(msg).encode() + b"\0")
        await self.proc.stdin.drain()
        reply = await asyncio.wait_for(fut, COMMAND_TIMEOUT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def navigate(self, url: str, *, width: int = 1280, height: int = 900) -> None:
        """Open ``url`` at a desktop viewport and wait for its load event."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._event_waiters.append(("Page.loadEventFired", fut))
        await self.send("Page.navigate", {"url": url})
        await asyncio.wait_for(fut, COMMAND_TIMEOUT)

    async def evaluate(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page; returns its JSON value."""
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Save a PNG of the viewport (or the whole page) to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = await self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params |= {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
            }
        data = await self.send("Page.captureScreenshot", params)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, failed loads and log errors, in order."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(
                    f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}"
                )
            elif method == "Runtime.exceptionThrown":
                out.append(
                    f"exception: {p.get('exceptionDetails', {}).get('text')} {p.get('exceptionDetails', {}).get('exception', {}).get('description', '')}"
                )
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log.{p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                out.append(f"load failed: {p.get('errorText')}")
            elif method == "Page.javascriptDialogOpening":
                out.append(f"dialog: {p.get('message')}")
        return out

    def requested_urls(self) -> list[str]:
        """Every URL the page asked the network stack for."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]
