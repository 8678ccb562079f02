"""The ``RunStore`` protocol: the one interface to durable state.

Two implementations pass one contract suite (``tests/store/``): PostgreSQL through
asyncpg (``postgres.py``, distributed mode) and SQLite (``sqlite.py``, embedded mode).
SQL lives only in this package.

Rules every implementation keeps:

- Every state change is one transaction together with its ledger events (and outbox
  rows where a message must be published): a crash leaves either all of it or none.
- Status changes are checked against ``ideamine.enums`` transition tables and are
  conditional on the expected status *and* the attempt number (fencing): a stale
  worker gets :class:`~ideamine.errors.StaleAttempt`, a wrong status
  :class:`~ideamine.errors.Conflict`, and nothing is written.
- ``commit_task_result`` is exactly-once per idempotency key.
- The ledger is append-only (triggers reject UPDATE/DELETE), sequence numbers come
  from the database, each row's hash chains to the previous one.
- A lost connection raises :class:`~ideamine.errors.StoreUnavailable` (retryable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from ideamine.enums import GateDecision, PhaseStatus, QuestionStatus, RunStatus, TaskStatus
from ideamine.store.records import (
    JSON,
    AgentHostRecord,
    ArtifactRecord,
    AssumptionRecord,
    BudgetEventRecord,
    BudgetLimits,
    BudgetScopeRecord,
    CheckpointRecord,
    Event,
    GateEvaluationRecord,
    LeaseRecord,
    LedgerRecord,
    LedgerVerification,
    LLMCallRecord,
    NewArtifact,
    NewRun,
    NewTask,
    OutboxRecord,
    Page,
    PhaseExecutionRecord,
    QuestionRecord,
    Reservation,
    RunRecord,
    TaskRecord,
    TaskResultRecord,
    TimerRecord,
    UsageTotals,
    WaiverRecord,
)

__all__ = ["OUTBOX_CLAIM_SECONDS", "RunStore", "TaskInputs"]

#: default life of an outbox claim (:meth:`RunStore.claim_outbox`): publishing a batch
#: takes milliseconds, so this only bounds how long a crashed relay's rows wait
OUTBOX_CLAIM_SECONDS = 10.0


@dataclass(frozen=True)
class TaskInputs:
    """What one agent task reads from its run (:meth:`RunStore.read_task_inputs`).

    Attributes:
        idea: the run's idea (text, title, constraints).
        artifacts: the latest version per (type, key) of the requested types, plus the
            artifacts named by id (any version), each once, in creation order.
        questions: the run's questions that carry an answer, oldest first.
    """

    idea: JSON
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    questions: list[QuestionRecord] = field(default_factory=list)


@runtime_checkable
class RunStore(Protocol):
    """Durable state of runs, tasks, artifacts, ledger, budgets, timers and leases."""

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Connect (pool) and check the schema is migrated; idempotent."""
        ...

    async def close(self) -> None:
        """Close connections; idempotent."""
        ...

    async def ping(self) -> bool:
        """Whether the database answers (health checks)."""
        ...

    # ----------------------------------------------------------------------- runs
    async def create_run(self, run: NewRun, *, events: Sequence[Event] = ()) -> RunRecord:
        """Insert a run (status PENDING), its run budget scope, and ``events``."""
        ...

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run; NotFound when missing or (with ``tenant``) owned by another tenant."""
        ...

    async def list_runs(
        self,
        *,
        tenant: str | None = None,
        statuses: Sequence[RunStatus] = (),
        page_size: int = 50,
        page_token: str = "",
    ) -> Page:
        """Runs newest first; ``page_token`` is opaque (the store's own cursor)."""
        ...

    async def transition_run(
        self,
        run_id: str,
        *,
        expected: Sequence[RunStatus],
        new: RunStatus,
        reason: str = "",
        events: Sequence[Event] = (),
        fence: tuple[str, int] | None = None,
    ) -> RunRecord:
        """Guarded status change. ``fence=(owner, fence)`` also requires the run lease.

        Raises Conflict if the status is not in ``expected`` or the transition is not in
        the table; StaleAttempt if the lease fence does not match.
        """
        ...

    async def update_run_budget(
        self, run_id: str, budget: BudgetLimits, *, events: Sequence[Event] = ()
    ) -> RunRecord:
        """Replace the run's budget limits (and its run-scope limits), e.g. RaiseBudget."""
        ...

    # ------------------------------------------------------------------- phases
    async def upsert_phase_execution(
        self,
        run_id: str,
        phase: str,
        *,
        expected: Sequence[PhaseStatus] | None,
        status: PhaseStatus,
        attempt: int,
        plan_hash: str = "",
        score: float | None = None,
        decision: GateDecision | None = None,
        events: Sequence[Event] = (),
    ) -> PhaseExecutionRecord:
        """Create (``expected=None``: must not exist) or guardedly update a phase execution."""
        ...

    async def list_phase_executions(self, run_id: str) -> list[PhaseExecutionRecord]:
        """Phase executions of a run in pipeline order of creation."""
        ...

    async def get_phase_execution(self, run_id: str, phase: str) -> PhaseExecutionRecord:
        """One phase execution; NotFound when missing."""
        ...

    # -------------------------------------------------------------------- tasks
    async def create_tasks(
        self, tasks: Sequence[NewTask], *, events: Sequence[Event] = ()
    ) -> list[TaskRecord]:
        """Insert tasks as QUEUED (attempt 1) with one outbox row each, in one transaction.

        A task whose idempotency key already has a committed result is created directly
        as SUCCEEDED (no outbox row): its effect already exists.
        """
        ...

    async def get_task(self, task_id: str) -> TaskRecord:
        """One task; NotFound when missing."""
        ...

    async def get_tasks(self, task_ids: Sequence[str]) -> list[TaskRecord]:
        """The tasks among ``task_ids`` that exist, in the order asked, each once (one read)."""
        ...

    async def list_tasks(
        self, run_id: str, *, phase: str | None = None, statuses: Sequence[TaskStatus] = ()
    ) -> list[TaskRecord]:
        """Tasks of a run, oldest first."""
        ...

    async def start_task(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float
    ) -> TaskRecord:
        """QUEUED → RUNNING for ``attempt`` (fenced); sets worker and lease expiry."""
        ...

    async def heartbeat_task(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float
    ) -> TaskRecord:
        """Extend a RUNNING task's lease; StaleAttempt if another attempt/worker owns it."""
        ...

    async def commit_task_result(
        self,
        task_id: str,
        *,
        attempt: int,
        output: JSON,
        artifacts: Sequence[NewArtifact],
        events: Sequence[Event] = (),
        notice: JSON | None = None,
    ) -> TaskResultRecord:
        """Exactly-once: result + artifacts + ledger events + outbox notice + SUCCEEDED.

        If the task's idempotency key already has a committed result, returns that
        result and writes nothing. A fenced (stale) attempt raises StaleAttempt.
        """
        ...

    async def get_task_result(self, idempotency_key: str) -> TaskResultRecord | None:
        """The committed result for a key, if any."""
        ...

    async def fail_task(
        self,
        task_id: str,
        *,
        attempt: int,
        error: str,
        status: TaskStatus = TaskStatus.FAILED,
        events: Sequence[Event] = (),
        notice: JSON | None = None,
    ) -> TaskRecord:
        """RUNNING/QUEUED → FAILED, DEAD or CANCELLED (fenced), with events and a notice."""
        ...

    async def requeue_task(
        self,
        task_id: str,
        *,
        attempt: int,
        reason: str,
        events: Sequence[Event] = (),
        input_patch: JSON | None = None,
    ) -> TaskRecord:
        """RUNNING/FAILED → QUEUED with ``attempt + 1`` and a new outbox row (retry/redelivery)."""
        ...

    async def cancel_tasks(self, run_id: str, *, events: Sequence[Event] = ()) -> int:
        """Cancel every non-terminal task of a run; returns how many."""
        ...

    async def expired_leases(self, *, now: datetime | None = None, limit: int = 100) -> list[TaskRecord]:
        """RUNNING tasks whose lease expired (stall detection)."""
        ...

    # ---------------------------------------------------------------- artifacts
    async def list_artifacts(
        self, run_id: str, *, phase: str | None = None, type: str | None = None, latest_only: bool = True
    ) -> list[ArtifactRecord]:
        """Artifacts of a run in creation order; by default only the latest version per (type, key)."""
        ...

    async def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        """One artifact; NotFound when missing."""
        ...

    # ------------------------------------------------------------------- ledger
    async def append_events(self, run_id: str, events: Sequence[Event]) -> list[LedgerRecord]:
        """Append events on their own (most appends ride along with a state change)."""
        ...

    async def list_events(self, run_id: str, *, after_seq: int = 0, limit: int = 1000) -> list[LedgerRecord]:
        """Ledger rows with ``seq > after_seq`` in order."""
        ...

    async def verify_ledger(self, run_id: str) -> LedgerVerification:
        """Recompute the chain; report the first bad row."""
        ...

    # ------------------------------------------------------------------- outbox
    # The relay protocol (one row is published by one relay, not by all of them):
    #
    #   rows = await store.claim_outbox(owner)      # mine for claim_seconds
    #   ...publish rows...
    #   await store.mark_published(ids)             # done; or release_outbox(ids, owner=...)
    #
    # A relay that dies between claim and mark leaves its claim to expire; the next
    # relay takes the rows then (at-least-once: a crash can still duplicate a message,
    # which the idempotency key makes harmless — nothing else does).
    async def fetch_outbox(self, *, topic: str | None = None, limit: int = 500) -> list[OutboxRecord]:
        """Unpublished outbox rows, oldest first, claimed or not (a read-only look; relays
        use :meth:`claim_outbox`)."""
        ...

    async def claim_outbox(
        self,
        owner: str,
        *,
        topic: str | None = None,
        limit: int = 500,
        claim_seconds: float = OUTBOX_CLAIM_SECONDS,
        now: datetime | None = None,
    ) -> list[OutboxRecord]:
        """Atomically take up to ``limit`` unpublished rows for ``owner`` to publish, oldest first.

        A row can be claimed when it is unpublished and unclaimed, or its claim expired
        (``claimed_until <= now``). Claiming sets ``claimed_by = owner`` and
        ``claimed_until = now + claim_seconds``. Concurrent claimers get disjoint rows and
        never wait on each other (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite's single
        writer). A row claimed by ``owner`` itself is *not* taken again before it expires:
        two coroutines of one process may share an owner name.

        Args:
            owner: who publishes (a replica or host id, unique per process).
            topic: only rows of this topic (None: every topic).
            limit: at most this many rows.
            claim_seconds: how long the claim keeps other relays off the rows; longer
                than a publish takes, short enough that a dead relay's rows go out soon.
            now: the clock (tests); default the current time.
        """
        ...

    async def mark_published(self, outbox_ids: Sequence[int]) -> None:
        """Flag rows published (kept for audit; neither fetched nor claimed again)."""
        ...

    async def release_outbox(self, outbox_ids: Sequence[int], *, owner: str) -> int:
        """Drop ``owner``'s claim on unpublished rows (the publish failed, e.g. QueueFull),
        so any relay may take them at once; returns how many were released."""
        ...

    def keep_written_outbox(self, owner: str, *, claim_seconds: float = OUTBOX_CLAIM_SECONDS) -> None:
        """Insert this store's outbox rows from now on already claimed by ``owner`` (for
        ``claim_seconds``) and keep them, once committed, for :meth:`take_written_outbox`.

        For the relay of the process that writes them: it publishes its own commits' rows
        without a claim statement (:mod:`ideamine.store.written_outbox`). A later call
        replaces the owner.
        """
        ...

    def take_written_outbox(self) -> list[OutboxRecord]:
        """The rows this store wrote, committed and claimed for its relay since the last
        call, oldest first: the caller publishes them, then marks them published (or
        releases them with ``owner=row.claimed_by``)."""
        ...

    async def unfinished_tasks(self, *, limit: int = 10_000) -> list[TaskRecord]:
        """QUEUED and RUNNING tasks (the reconciler re-publishes those missing from the queue)."""
        ...

    # ------------------------------------------------------------------- timers
    async def arm_timer(
        self, run_id: str, *, kind: str, key: str, fire_at: datetime, payload: JSON
    ) -> TimerRecord:
        """Create a timer; arming an existing (run, kind, key) returns the existing one."""
        ...

    async def claim_due_timers(
        self,
        *,
        owner: str,
        now: datetime | None = None,
        limit: int = 100,
        run_ids: Sequence[str] | None = None,
    ) -> list[TimerRecord]:
        """Claim due, unfired timers (SKIP LOCKED); a claim older than ``TIMER_CLAIM_TIMEOUT``
        that was never fired (its claimer died) can be taken again."""
        ...

    async def complete_timer(self, timer_id: str) -> None:
        """Mark a claimed timer fired."""
        ...

    async def cancel_timer(self, run_id: str, *, kind: str, key: str) -> bool:
        """Remove an unfired timer; True when one was removed."""
        ...

    # -------------------------------------------------------------- checkpoints
    async def save_checkpoint(
        self, run_id: str, phase: str, *, attempt: int, state: JSON, events: Sequence[Event] = ()
    ) -> CheckpointRecord:
        """Store a phase checkpoint (and a "checkpoint.saved" event if given)."""
        ...

    async def list_checkpoints(self, run_id: str) -> list[CheckpointRecord]:
        """Checkpoints of a run, oldest first."""
        ...

    async def latest_checkpoint(self, run_id: str, phase: str) -> CheckpointRecord | None:
        """The newest checkpoint of a phase."""
        ...

    # ------------------------------------------------------------------- Q/A/V
    async def add_question(
        self, run_id: str, phase: str, *, text: str, blocking: bool, events: Sequence[Event] = ()
    ) -> QuestionRecord:
        """Add an OPEN question; its code (Q-001 …) is assigned per run."""
        ...

    async def answer_question(
        self,
        question_id: str,
        *,
        expected: Sequence[QuestionStatus],
        status: QuestionStatus,
        answer: str | None,
        confidence: float | None,
        scores: JSON,
        answered_by: str | None,
        deadline: datetime | None = None,
        events: Sequence[Event] = (),
        assumption: str | None = None,
    ) -> QuestionRecord:
        """Guarded update of a question (Conflict when its status is not ``expected``).

        ``assumption``: the text of the assumption this answer settles the question with,
        recorded (ASM-nnn, linked to the question) in the same transaction — a question
        never ends ASSUMED without its assumption.
        """
        ...

    async def list_questions(self, run_id: str, *, phase: str | None = None) -> list[QuestionRecord]:
        """Questions of a run."""
        ...

    async def get_question(self, question_id: str) -> QuestionRecord:
        """One question; NotFound when missing."""
        ...

    async def search_answers(self, run_id: str, query: str, *, limit: int = 5) -> list[QuestionRecord]:
        """Full-text search over the run's accepted answers (the Q/A knowledge base)."""
        ...

    async def add_assumption(
        self, run_id: str, phase: str, *, text: str, question_id: str | None, events: Sequence[Event] = ()
    ) -> AssumptionRecord:
        """Record an assumption; code ASM-001 … per run."""
        ...

    async def list_assumptions(self, run_id: str) -> list[AssumptionRecord]:
        """Assumptions of a run."""
        ...

    # -------------------------------------------------------------------- gates
    async def record_gate_evaluation(
        self,
        run_id: str,
        phase: str,
        *,
        attempt: int,
        score: float,
        decision: GateDecision,
        metrics: list[JSON],
        findings: list[str],
        events: Sequence[Event] = (),
    ) -> GateEvaluationRecord:
        """Store one gate evaluation with its events."""
        ...

    async def list_gate_evaluations(
        self, run_id: str, *, phase: str | None = None
    ) -> list[GateEvaluationRecord]:
        """Gate evaluations of a run, oldest first."""
        ...

    async def add_waiver(
        self,
        run_id: str,
        phase: str,
        *,
        granted_by: str,
        justification: str,
        expires_at: datetime | None,
        events: Sequence[Event] = (),
    ) -> WaiverRecord:
        """Record an admin's waiver."""
        ...

    async def list_waivers(self, run_id: str) -> list[WaiverRecord]:
        """Waivers of a run."""
        ...

    # ------------------------------------------------------------------ budgets
    async def ensure_budget_scope(
        self, run_id: str, *, kind: str, name: str, limits: BudgetLimits, parent_id: str | None
    ) -> BudgetScopeRecord:
        """Create the scope if missing (by run, kind, name); return it."""
        ...

    async def get_budget_scopes(self, run_id: str) -> list[BudgetScopeRecord]:
        """All scopes of a run."""
        ...

    async def reserve(self, scope_id: str, *, tokens: int, usd: float) -> Reservation:
        """Atomically reserve on the scope and all ancestors, or raise BudgetExceeded.

        ``used + reserved + request <= limit`` must hold in every dimension of every
        scope on the path; 50 concurrent reservations never overshoot.
        """
        ...

    async def settle(
        self,
        reservation: Reservation,
        *,
        tokens: int,
        usd: float,
        events: Sequence[Event] = (),
        call: LLMCallRecord | None = None,
    ) -> list[BudgetScopeRecord]:
        """Release the reservation and add the actual usage; record threshold crossings once.

        ``call``, the record of the model call the reservation paid for, is stored in the
        same transaction: the spend and its call row are never one without the other.
        Returns the updated scopes; crossings are appended as "budget.threshold" events.
        """
        ...

    async def budget_events(self, run_id: str) -> list[BudgetEventRecord]:
        """Threshold crossings of a run."""
        ...

    # ---------------------------------------------------------------- llm calls
    async def record_llm_call(self, call: LLMCallRecord) -> None:
        """Store one model call's usage and cost."""
        ...

    async def list_llm_calls(
        self, *, run_id: str | None = None, task_id: str | None = None
    ) -> list[LLMCallRecord]:
        """Model calls, oldest first."""
        ...

    async def run_usage(self, run_id: str) -> UsageTotals:
        """The run's model calls summed, in one row however many there are (zeros when none)."""
        ...

    # -------------------------------------------------------------- agent hosts
    async def register_host(self, host: AgentHostRecord) -> AgentHostRecord:
        """Insert or replace a host registration."""
        ...

    async def heartbeat_host(self, host_id: str, *, status: str) -> AgentHostRecord:
        """Touch a host's heartbeat; NotFound when unknown."""
        ...

    async def list_hosts(self) -> list[AgentHostRecord]:
        """Registered hosts."""
        ...

    # ---------------------------------------------------------- worker liveness
    # A worker process holds a lock that ends with it, so the tasks of a crashed worker
    # are found at once instead of when their leases run out (``postgres/liveness.py``).

    async def hold_worker_liveness(self, worker: str) -> bool:
        """Take (or re-check) ``worker``'s liveness lock; call periodically. False: held elsewhere."""
        ...

    async def release_worker_liveness(self, worker: str) -> None:
        """Give the liveness lock up (an orderly stop)."""
        ...

    async def unheld_workers(self) -> list[str]:
        """Workers of RUNNING tasks whose liveness lock nobody holds ([]: this backend cannot tell)."""
        ...

    async def running_tasks_of(self, worker: str) -> list[TaskRecord]:
        """The RUNNING tasks ``worker`` holds, oldest first."""
        ...

    # ------------------------------------------------------------------- leases
    async def acquire_lease(self, run_id: str, *, owner: str, ttl_seconds: float) -> LeaseRecord | None:
        """Take the run if unowned or expired (fence + 1), or renew if ``owner`` holds it.

        Returns None when another owner holds a live lease.
        """
        ...

    async def renew_leases(
        self, run_ids: Sequence[str], *, owner: str, ttl_seconds: float
    ) -> dict[str, LeaseRecord]:
        """Extend every lease ``owner`` still holds among ``run_ids``, in one write.

        A lease ``owner`` let expire is renewed too while nobody took it (same fence, as
        :meth:`acquire_lease` would). Runs missing from the answer are not ``owner``'s any
        more: another owner took them, or they were released.
        """
        ...

    async def release_lease(self, run_id: str, *, owner: str) -> None:
        """Give up a held lease (no-op when not held)."""
        ...

    async def runs_needing_owner(self, *, limit: int = 100) -> list[str]:
        """Non-terminal runs whose lease is missing or expired."""
        ...

    # -------------------------------------------------------------- worker path
    # One call per step of an agent host's per-task path, so a no-op task costs few
    # round trips (and few synchronous commits) whatever the size of its run.

    async def get_task_with_result(self, task_id: str) -> tuple[TaskRecord, TaskResultRecord | None]:
        """A task and the committed result of its idempotency key (None: none yet), in one read."""
        ...

    async def start_task_with_events(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float, events: Sequence[Event] = ()
    ) -> TaskRecord:
        """``start_task`` and its ledger events in one transaction (one commit, not two).

        Unlike ``start_task`` it also refuses (Conflict, nothing written) a task whose
        idempotency key already has a committed result: a worker may start a delivery
        without reading the task first, and must not run an effect that exists.
        """
        ...

    async def read_task_inputs(
        self, run_id: str, *, types: Sequence[str], artifact_ids: Sequence[str] = ()
    ) -> TaskInputs:
        """What a task of ``run_id`` reads, in one round trip; never the whole run's artifacts.

        Malformed or unknown ``artifact_ids`` name nothing and are skipped. NotFound when
        the run does not exist.
        """
        ...

    async def succeed_from_result(
        self,
        task_id: str,
        *,
        attempt: int,
        events: Sequence[Event] = (),
        notice: JSON | None = None,
    ) -> TaskRecord:
        """QUEUED/RUNNING → SUCCEEDED for a task whose idempotency key already has a result.

        For a redelivered task (or a duplicate of the key) whose effect was committed
        elsewhere: the row ends SUCCEEDED with its events and notice, and nothing else is
        written. Fenced by ``attempt`` (StaleAttempt); Conflict when the key has no
        committed result or the task is in another status.
        """
        ...
