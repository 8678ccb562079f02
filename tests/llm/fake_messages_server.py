"""A real HTTP server on 127.0.0.1 speaking enough of the Anthropic Messages API for tests.

The ``anthropic`` SDK uses httpx2, which request-mocking libraries do not intercept, so
provider tests talk to this server over a real socket. Each test scripts the replies
(:meth:`FakeMessagesServer.script`) and inspects every request the server received
(:attr:`FakeMessagesServer.requests`) — headers and decoded JSON body — to check
prompts, tool schemas and repair instructions.

Replies are built by the module-level helpers: :func:`tool_reply` (a ``tool_use``
block with usage), :func:`text_reply` (no tool block), :func:`error_reply` (any status,
with optional ``retry-after``), :func:`malformed_reply` (a broken JSON body) and
:func:`held` (a reply that is only sent once the server stops, for client timeouts).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MODEL = "claude-haiku-4-5-20251001"

_ids = itertools.count(1)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]  #: lower-cased names
    body: Any  #: decoded JSON, or the raw text when it was not JSON

    @property
    def user_text(self) -> str:
        """The text of the (single) user message."""
        content = self.body["messages"][0]["content"]
        return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


@dataclass(frozen=True)
class Reply:
    """A scripted response; ``body`` may depend on the request's JSON body."""

    status: int = 200
    body: bytes | Callable[[Any], Any] = b""
    headers: tuple[tuple[str, str], ...] = ()
    hold: bool = False  #: answer only when the server stops (a "slow" backend)

    def render(self, request_body: Any) -> bytes:
        """The response bytes for ``request_body``."""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body(request_body)).encode()


def _tool_name(request_body: Any) -> str:
    try:
        return str(request_body["tool_choice"]["name"])
    except (KeyError, TypeError):
        return "unknown_tool"


def _message(
    content: list[dict[str, Any]], *, model: str, usage: dict[str, int], stop: str
) -> dict[str, Any]:
    return {
        "id": f"msg_{next(_ids):04d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def tool_reply(
    tool_input: Any,
    *,
    model: str = DEFAULT_MODEL,
    input_tokens: int = 120,
    output_tokens: int = 40,
    request_id: str | None = None,
) -> Reply:
    """A successful ``tool_use`` answer naming the tool the request forced."""

    def body(req: Any) -> Any:
        block = {
            "type": "tool_use",
            "id": f"toolu_{next(_ids):04d}",
            "name": _tool_name(req),
            "input": tool_input,
        }
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
        return _message([block], model=model, usage=usage, stop="tool_use")

    headers = (("request-id", request_id or f"req_{next(_ids):04d}"),)
    return Reply(200, body, (("content-type", "application/json"), *headers))


def text_reply(text: str, *, model: str = DEFAULT_MODEL) -> Reply:
    """A 200 answer with only a text block (the model ignored the forced tool)."""

    def body(_req: Any) -> Any:
        usage = {"input_tokens": 100, "output_tokens": 7}
        return _message([{"type": "text", "text": text}], model=model, usage=usage, stop="end_turn")

    return Reply(200, body, (("content-type", "application/json"),))


def error_reply(
    status: int,
    *,
    error_type: str = "api_error",
    message: str = "scripted error",
    retry_after: str | None = None,
) -> Reply:
    """An API error response in the Messages API error shape."""
    payload = json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()
    headers: list[tuple[str, str]] = [("content-type", "application/json")]
    if retry_after is not None:
        headers.append(("retry-after", retry_after))
    return Reply(status, payload, tuple(headers))


def malformed_reply() -> Reply:
    """A 200 whose JSON body is cut off mid-way."""
    return Reply(
        200,
        b'{"id": "msg_x", "type": "message", "content": [{"type": "tool_u',
        (("content-type", "application/json"),),
    )


def held(reply: Reply) -> Reply:
    """``reply``, sent only when the server stops — the client times out first."""
    return Reply(reply.status, reply.body, reply.headers, hold=True)


@dataclass
class _State:
    script: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def do_POST(self) -> None:
        """Record the request, then send the next scripted reply."""
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        state = self.server.state
        with state.lock:
            state.requests.append(
                RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            reply = (
                state.script.popleft() if state.script else error_reply(418, message="no scripted reply left")
            )
        if reply.hold:
            state.released.wait()
        payload = reply.render(body)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout) before a held reply was sent
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeMessagesServer:
    """A scripted Messages API server on an ephemeral 127.0.0.1 port.

    Use as a context manager or call :meth:`start`/:meth:`stop`. An unscripted request
    gets a 418 (non-retryable) so a test that sends more than it scripted fails loudly.
    """

    def __init__(self) -> None:
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        with self._state.lock:
            return len(self._state.script)

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order, one per request."""
        with self._state.lock:
            self._state.script.extend(replies)

    def script_next(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` (in order), before anything queued earlier."""
        with self._state.lock:
            self._state.script.extendleft(reversed(replies))

    def start(self) -> FakeMessagesServer:
        """Bind and serve in a background thread."""
        self._server = _Server(self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-messages",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held replies, stop serving and close the socket (idempotent)."""
        self._state.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeMessagesServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running_server() -> Iterator[FakeMessagesServer]:
    """A started server, stopped on exit."""
    with FakeMessagesServer() as server:
        yield server
