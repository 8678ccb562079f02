"""The distributed mode's queue: Redis Streams through redis-py asyncio (hiredis parser).

One round trip per operation on the hot path:

- **publish** is one Lua script: check ``XLEN`` against the bound, then ``XADD`` the
  whole batch — atomic, so back-pressure is exact and a refused batch writes nothing.
- **consume** is one ``XREADGROUP COUNT n BLOCK ms``.
- **ack** is one ``MULTI XACK … XDEL … EXEC``: an acked entry leaves the stream in the
  same step, so the stream's length is the backlog and nothing else ever trims it.
- **extend** is a script: ``XPENDING`` the entry, and only if this consumer still owns
  it, ``XCLAIM … JUSTID`` to itself (resets idle, leaves the delivery count alone). A
  bare ``XCLAIM`` would steal the entry back from a consumer that reclaimed it.
- **reclaim** is a script: ``XPENDING IDLE lease`` then ``XCLAIM`` with the same
  min-idle (which re-checks idleness, so two reclaimers never both win an entry). This
  is XAUTOCLAIM's job done in two steps, because XAUTOCLAIM bumps the delivery count
  before we can look at it and forgets the previous owner; entries that used up their
  deliveries are moved to the dead-letter stream in the same script.

Connection failures (refused, reset, timeouts, a server still loading its AOF) raise
:class:`~ideamine.errors.QueueUnavailable`. A ``NOGROUP`` reply (the keys were lost, e.g.
``FLUSHALL``) re-creates the groups at id 0 and retries once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar, cast

import hiredis
import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from ideamine.errors import QueueFull, QueueUnavailable
from ideamine.queue._core import Claimed, RawEntry, StreamQueue, over_delivered_reason
from ideamine.queue.base import QueueLimits
from ideamine.queue.keys import DEFAULT_PREFIX, QueueKeys
from ideamine.queue.message import (
    DL_CONSUMER,
    DL_DELIVERIES,
    DL_REASON,
    DL_SOURCE_ID,
    DeadLetter,
    Fields,
    RawFields,
)

__all__ = ["RedisStreamsQueue", "RedisBackend", "HiredisPackingConnection"]

T = TypeVar("T")

# KEYS: stream. ARGV: max_length, n, then per entry: pair count, field, value, ...
_APPEND = """
local len = redis.call('XLEN', KEYS[1])
local n = tonumber(ARGV[2])
if len + n > tonumber(ARGV[1]) then return {0, len} end
local out, i = {1}, 3
for m = 1, n do
  local k = tonumber(ARGV[i])
  out[m + 1] = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, i + 2 * k))
  i = i + 1 + 2 * k
end
return out
"""

# KEYS: stream. ARGV: group, consumer, id.
_TOUCH = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

# KEYS: stream, dead. ARGV: group, consumer, min_idle_ms, count, max_deliveries (0: none),
# reason, dead max length. Returns {claimed {id, fields, deliveries, previous owner}, dead {...}}.
_CLAIM = f"""
local group, consumer, maxd = ARGV[1], ARGV[2], tonumber(ARGV[5])
local pend = redis.call('XPENDING', KEYS[1], group, 'IDLE', ARGV[3], '-', '+', ARGV[4])
local live, prev, dead = {{}}, {{}}, {{}}
for _, p in ipairs(pend) do
  local id, owner, n = p[1], p[2], p[4]
  if maxd > 0 and n >= maxd then
    local e = redis.call('XRANGE', KEYS[1], id, id)
    if #e > 0 then
      local args = {{KEYS[2], 'MAXLEN', '~', ARGV[7], '*'}}
      for _, v in ipairs(e[1][2]) do args[#args + 1] = v end
      for _, v in ipairs({{'{DL_REASON}', ARGV[6], '{DL_SOURCE_ID}', id, '{DL_DELIVERIES}', n,
                           '{DL_CONSUMER}', owner}}) do args[#args + 1] = v end
      redis.call('XADD', unpack(args))
      dead[#dead + 1] = {{id, e[1][2], n, owner}}
    end
    redis.call('XACK', KEYS[1], group, id)
    redis.call('XDEL', KEYS[1], id)
  else
    live[#live + 1] = id
    prev[id] = {{owner, n}}
  end
end
local claimed = {{}}
for i = 1, #live, 500 do  -- slices keep unpack() under Lua's C-stack limit
  local ids = {{unpack(live, i, math.min(i + 499, #live))}}
  for _, e in ipairs(redis.call('XCLAIM', KEYS[1], group, consumer, ARGV[3], unpack(ids))) do
    local info = prev[e[1]]
    claimed[#claimed + 1] = {{e[1], e[2], info[2] + 1, info[1]}}
  end
end
return {{claimed, dead}}
"""


class HiredisPackingConnection(aioredis.Connection):
    """A TCP connection that serialises commands with hiredis (C) instead of in Python.

    Why: redis-py's asyncio packer re-joins its buffer once per argument, which is
    quadratic for a batch publish (one script call with ~20 arguments per message);
    profiling showed it at half the batched publish time. The sync client already packs
    with hiredis; this does the same for asyncio.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        """Pack one command, splitting a multi-word command name like redis-py does."""
        head = args[0]
        if isinstance(head, str):
            args = (*head.encode().split(), *args[1:])
        elif b" " in head:
            args = (*head.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:  # a bytearray, say: hiredis takes bytes, str, int, float, memoryview
            pass
        try:
            return [hiredis.pack_command(tuple(bytes(a) if isinstance(a, bytearray) else a for a in args))]  # type: ignore[arg-type]
        except TypeError as exc:
            raise rexc.DataError(str(exc)) from exc


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RedisBackend:
    """Stream primitives over one redis-py asyncio client."""

    def __init__(self, client: aioredis.Redis, *, keys: QueueKeys, dead_letter_max_length: int) -> None:
        self.client = client
        self._keys = keys
        self._dead_max = dead_letter_max_length
        self._groups: dict[str, str] = {}
        self._append = client.register_script(_APPEND)
        self._touch = client.register_script(_TOUCH)
        self._claim = client.register_script(_CLAIM)

    async def _do(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run ``op``, mapping connection loss to QueueUnavailable and healing NOGROUP once."""
        try:
            try:
                return await op()
            except rexc.ResponseError as exc:
                if not str(exc).startswith("NOGROUP") or not self._groups:
                    raise
                for stream, group in self._groups.items():
                    await self._create(stream, group)
                return await op()
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
            raise QueueUnavailable(f"redis unreachable: {exc}") from exc

    async def _create(self, stream: str, group: str) -> None:
        try:
            await self.client.xgroup_create(stream, group, id="0", mkstream=True)
        except rexc.ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def create_group(self, stream: str, group: str) -> None:
        """XGROUP CREATE … 0 MKSTREAM unless the group exists."""
        self._groups[stream] = group
        await self._do(lambda: self._create(stream, group))

    async def append(self, stream: str, batch: Sequence[Fields], *, max_length: int) -> list[str]:
        """One script: bound check + XADD of the whole batch."""
        args: list[str | bytes | int] = [max_length, len(batch)]
        for fields in batch:
            args.append(len(fields))
            for k, v in fields.items():
                args += (k, v)
        res = await self._do(lambda: self._append(keys=[stream], args=args))
        if res[0] == 0:
            raise QueueFull(
                f"stream {stream} holds {res[1]} entries; limit {max_length}", length=res[1], limit=max_length
            )
        return [_s(i) for i in res[1:]]

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[RawEntry]:
        """XREADGROUP … STREAMS stream >."""
        resp: Any = await self._do(
            lambda: self.client.xreadgroup(
                group, consumer, {stream: ">"}, count=count, block=block_ms or None
            )
        )
        out: list[RawEntry] = []
        items = resp.items() if isinstance(resp, dict) else (resp or [])
        for item in items:
            entries = item[1][0] if isinstance(resp, dict) else item[1]
            out.extend(RawEntry(_s(i), f, 1) for i, f in entries if f is not None)
        return out

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        """MULTI XACK + XDEL EXEC."""

        async def op() -> int:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xack(stream, group, *ids)
                pipe.xdel(stream, *ids)
                acked, _ = await pipe.execute()
            return int(acked)

        return await self._do(op)

    async def touch(self, stream: str, group: str, consumer: str, entry_id: str) -> bool:
        """Ownership-checked XCLAIM JUSTID."""
        res = await self._do(lambda: self._touch(keys=[stream], args=[group, consumer, entry_id]))
        return bool(res)

    async def claim(
        self,
        stream: str,
        group: str,
        consumer: str,
        *,
        min_idle_ms: int,
        count: int,
        max_deliveries: int | None,
    ) -> Claimed:
        """XPENDING IDLE + XCLAIM, burying over-delivered entries, in one script."""
        maxd = max_deliveries or 0
        args: list[str | int] = [
            group,
            consumer,
            min_idle_ms,
            count,
            maxd,
            over_delivered_reason(maxd),
            self._dead_max,
        ]
        res: Any = await self._do(lambda: self._claim(keys=[stream, self._keys.dead], args=args))
        return Claimed(
            entries=[RawEntry(_s(i), _pairs(f), int(n), _s(prev)) for i, f, n, prev in res[0]],
            dead=[
                DeadLetter.of(
                    _s(i), _pairs(f), reason=over_delivered_reason(maxd), deliveries=int(n), consumer=_s(c)
                )
                for i, f, n, c in res[1]
            ],
        )

    async def bury(self, stream: str, group: str, letters: Sequence[DeadLetter]) -> None:
        """MULTI XADD dead … XACK XDEL EXEC."""
        if not letters:
            return

        async def op() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                for letter in letters:
                    pipe.xadd(
                        self._keys.dead,
                        cast(dict[Any, Any], letter.encode()),
                        maxlen=self._dead_max,
                        approximate=True,
                    )
                ids = [letter.entry_id for letter in letters]
                pipe.xack(stream, group, *ids)
                pipe.xdel(stream, *ids)
                await pipe.execute()

        await self._do(op)

    async def pending_of(self, stream: str, group: str, consumer: str, *, limit: int) -> set[str]:
        """XPENDING stream group - + limit consumer."""
        rows: Any = await self._do(
            lambda: self.client.xpending_range(
                stream, group, min="-", max="+", count=limit, consumername=consumer
            )
        )
        return {_s(r["message_id"]) for r in rows}

    async def field_values(self, stream: str, name: str) -> set[str]:
        """XRANGE through the stream in pages of 1000."""
        out: set[str] = set()
        key, start = name.encode(), "-"
        while True:
            page: Any = await self._do(partial(self.client.xrange, stream, min=start, max="+", count=1000))
            for _, fields in page:
                if (value := fields.get(key)) is not None:
                    out.add(_s(value))
            if len(page) < 1000:
                return out
            start = "(" + _s(page[-1][0])

    async def read_dead(self, *, count: int) -> list[RawFields]:
        """XRANGE dead - + COUNT n."""
        page: Any = await self._do(lambda: self.client.xrange(self._keys.dead, count=count))
        return [fields for _, fields in page]

    async def length(self, stream: str) -> int:
        """XLEN."""
        return int(await self._do(lambda: self.client.xlen(stream)))

    async def pending_summary(self, stream: str, group: str) -> dict[str, int]:
        """XPENDING summary form."""
        summary: Any = await self._do(lambda: self.client.xpending(stream, group))
        return {_s(c["name"]): int(c["pending"]) for c in summary.get("consumers") or []}

    async def close(self) -> None:
        """Close the client and its pool."""
        await self.client.aclose()


class RedisStreamsQueue(StreamQueue):
    """The Redis Streams :class:`~ideamine.queue.base.TaskQueue`.

    Prefer :meth:`from_url`. A client passed in directly must have a socket timeout
    longer than ``limits.max_block_ms`` (or none), or a long blocking ``consume`` would
    be mistaken for a dead server; and it must not use ``decode_responses``.
    """

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX, limits: QueueLimits | None = None
    ) -> None:
        keys = QueueKeys(prefix)
        limits = limits or QueueLimits()
        super().__init__(
            RedisBackend(client, keys=keys, dead_letter_max_length=limits.dead_letter_max_length),
            keys=keys,
            limits=limits,
        )
        self.client = client

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, limits: QueueLimits | None = None
    ) -> RedisStreamsQueue:
        """Connect lazily to ``redis://…``; the socket timeout outlasts the longest blocking read."""
        limits = limits or QueueLimits()
        extra: dict[str, Any] = {}
        if url.startswith("redis://"):  # TLS and unix sockets keep redis-py's own classes
            extra["connection_class"] = HiredisPackingConnection
        # redis-py's from_url pools get no retries: a pooled connection the server closed
        # (a restart, a failover) would fail its next command. Retrying a command whose
        # reply was lost is at-least-once, which the queue already is.
        retry = Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.25), retries=3)
        client = aioredis.Redis.from_url(
            url, socket_timeout=limits.max_block_ms / 1000 + 5, retry=retry, **extra
        )
        return cls(client, prefix=prefix, limits=limits)
