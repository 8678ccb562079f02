"""Every Redis name the queue uses, in one place.

Keyspace (``<p>`` is the namespace prefix, default ``ideamine``; tests use a unique
prefix each so they never see each other's entries)::

    {<p>}:tasks       STREAM  task messages (TaskMessage fields)
                      GROUP   "workers"        agent hosts; consumer = host id + slot
    {<p>}:notices     STREAM  completion notices (Notice fields)
                      GROUP   "orchestrators"  orchestrator replicas
    {<p>}:dead        STREAM  dead letters: the original fields + dl_reason, dl_source_id,
                              dl_deliveries, dl_consumer; capped (approximate MAXLEN)

Why these shapes:

- The prefix is wrapped in braces — a Redis Cluster hash tag — so every key of one
  queue lives in one slot and the Lua scripts that touch several of them stay legal.
- Acknowledged entries are deleted (XACK + XDEL in one MULTI), so a stream holds exactly
  the entries that are undelivered or pending. Its length is therefore the backlog the
  back-pressure limit is measured against, and nothing ever trims the tasks or notices
  streams: an unacknowledged entry can only leave by ack or by dead-lettering.
- Groups are created at id ``0``, not ``$``: if a stream is re-created by a publish
  (e.g. after a FLUSHALL and a reconciliation) before the group exists, the group still
  sees every entry.
- Nothing has a TTL: losing a key must be a deliberate act, and the reconciler makes
  even that survivable (the store is the source of truth).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PREFIX", "TASKS_GROUP", "NOTICES_GROUP", "QueueKeys"]

#: Namespace used by the services unless configured otherwise.
DEFAULT_PREFIX = "ideamine"
#: Consumer group of the agent hosts on the tasks stream.
TASKS_GROUP = "workers"
#: Consumer group of the orchestrator replicas on the notices stream.
NOTICES_GROUP = "orchestrators"


@dataclass(frozen=True)
class QueueKeys:
    """The key names of one queue namespace."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "{} \t\n"):
            raise ValueError(f"queue prefix must be non-empty without braces or spaces: {self.prefix!r}")

    @property
    def tag(self) -> str:
        """The hash-tagged prefix every key starts with."""
        return "{" + self.prefix + "}"

    @property
    def tasks(self) -> str:
        """Stream of task messages."""
        return f"{self.tag}:tasks"

    @property
    def notices(self) -> str:
        """Stream of completion notices."""
        return f"{self.tag}:notices"

    @property
    def dead(self) -> str:
        """Stream of dead letters."""
        return f"{self.tag}:dead"

    def all(self) -> tuple[str, ...]:
        """Every key of the namespace (for cleanup in tests and tools)."""
        return (self.tasks, self.notices, self.dead)
