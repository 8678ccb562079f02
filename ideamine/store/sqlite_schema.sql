-- IdeaMine SQLite schema (embedded mode). Version: see PRAGMA user_version below.
--
-- Tables and columns are the same as migrations/*.sql (PostgreSQL) applied in order; a
-- test compares them. A file of an older version is upgraded on open (the steps are in
-- sqlite/_base.py, one per PostgreSQL migration that changed the schema). SQLite-specific
-- choices:
--   * ids are UUIDv7 strings, times ISO-8601 UTC text with microseconds (fixed width,
--     so text order is time order), JSON is canonical JSON text;
--   * status CHECK lists are the ideamine.enums member names (a test compares them);
--   * the ledger rejects UPDATE and DELETE with RAISE(ABORT) triggers, and its seq
--     comes from the per-run counter row in ledger_heads, inside the writing transaction;
--   * accepted answers are indexed by the FTS5 table answers_fts, kept by triggers.

CREATE TABLE runs (
    id                        TEXT PRIMARY KEY,
    tenant                    TEXT NOT NULL,
    title                     TEXT NOT NULL,
    idea                      TEXT NOT NULL,
    phases                    TEXT NOT NULL,
    budget_tokens             INTEGER,
    budget_usd                REAL,
    budget_wall_clock_seconds REAL,
    policy                    TEXT NOT NULL CHECK (policy IN ('AUTONOMOUS', 'ASK_ON_BLOCKING', 'APPROVE_EACH_PHASE')),
    status                    TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'PAUSED', 'AWAITING_INPUT', 'NEEDS_WAIVER', 'BUDGET_EXHAUSTED', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    status_reason             TEXT NOT NULL DEFAULT '',
    created_by                TEXT NOT NULL DEFAULT '',
    labels                    TEXT NOT NULL DEFAULT '{}',
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    finished_at               TEXT
);
CREATE INDEX runs_tenant_id ON runs (tenant, id);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE phase_executions (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    phase       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'AWAITING_INPUT', 'SUCCEEDED', 'WAIVED', 'FAILED', 'CANCELLED')),
    attempt     INTEGER NOT NULL,
    plan_hash   TEXT NOT NULL DEFAULT '',
    score       REAL,
    decision    TEXT CHECK (decision IN ('PASS', 'WARN', 'FAIL')),
    started_at  TEXT,
    finished_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (run_id, phase)
);

CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL REFERENCES runs (id),
    phase            TEXT NOT NULL,
    phase_attempt    INTEGER NOT NULL,
    task_key         TEXT NOT NULL,
    agent            TEXT NOT NULL,
    agent_version    TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    input            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')),
    attempt          INTEGER NOT NULL,
    worker           TEXT,
    lease_expires_at TEXT,
    deadline         TEXT,
    max_deliveries   INTEGER NOT NULL,
    error            TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT
);
CREATE INDEX tasks_run ON tasks (run_id, phase);
CREATE INDEX tasks_status ON tasks (status, lease_expires_at);

CREATE TABLE task_results (
    idempotency_key TEXT PRIMARY KEY,
    task_id         TEXT NOT NULL REFERENCES tasks (id),
    attempt         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')),
    output          TEXT NOT NULL,
    artifact_ids    TEXT NOT NULL,
    committed_at    TEXT NOT NULL
);

CREATE TABLE artifacts (
    id                 TEXT PRIMARY KEY,
    run_id             TEXT NOT NULL REFERENCES runs (id),
    phase              TEXT NOT NULL,
    type               TEXT NOT NULL,
    key                TEXT NOT NULL DEFAULT '',
    version            INTEGER NOT NULL,
    content            TEXT NOT NULL,
    sha256             TEXT NOT NULL,
    model              TEXT NOT NULL,
    task_id            TEXT REFERENCES tasks (id),
    input_artifact_ids TEXT NOT NULL DEFAULT '[]',
    created_at         TEXT NOT NULL,
    UNIQUE (run_id, type, key, version)
);

CREATE TABLE ledger (
    run_id     TEXT NOT NULL REFERENCES runs (id),
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    phase      TEXT,
    task_id    TEXT,
    payload    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE rejected');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE rejected');
END;

-- the per-run chain head: the next seq and the hash to chain to, locked by the writer
CREATE TABLE ledger_heads (
    run_id    TEXT PRIMARY KEY REFERENCES runs (id),
    last_seq  INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    topic        TEXT NOT NULL,
    task_id      TEXT,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    published_at TEXT,
    claimed_by    TEXT,  -- the relay publishing the row (RunStore.claim_outbox)
    claimed_until TEXT   -- its claim lapses then; another relay may take the row
);
CREATE INDEX outbox_claimable ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE timers (
    id         TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    fire_at    TEXT NOT NULL,
    payload    TEXT NOT NULL,
    fired_at   TEXT,
    claimed_by TEXT,
    claimed_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (run_id, kind, key)
);
CREATE INDEX timers_unfired ON timers (fire_at) WHERE fired_at IS NULL;

CREATE TABLE checkpoints (
    id         TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    phase      TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX checkpoints_run ON checkpoints (run_id, phase, created_at);

CREATE TABLE questions (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    phase       TEXT NOT NULL,
    code        TEXT NOT NULL,
    text        TEXT NOT NULL,
    blocking    INTEGER NOT NULL CHECK (blocking IN (0, 1)),
    status      TEXT NOT NULL CHECK (status IN ('OPEN', 'ACCEPTED', 'ASSUMED', 'AWAITING_HUMAN', 'ANSWERED_BY_HUMAN')),
    answer      TEXT,
    confidence  REAL,
    scores      TEXT NOT NULL DEFAULT '{}',
    answered_by TEXT,
    deadline    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (run_id, code)
);

-- the Q/A knowledge base: accepted answers only (see _shared.ACCEPTED_ANSWER_STATUSES)
CREATE VIRTUAL TABLE answers_fts USING fts5 (
    question_id UNINDEXED,
    run_id UNINDEXED,
    body,
    tokenize = 'porter unicode61'
);
CREATE TRIGGER questions_fts_insert AFTER INSERT ON questions
WHEN NEW.status IN ('ACCEPTED', 'ANSWERED_BY_HUMAN') AND NEW.answer IS NOT NULL
BEGIN
    INSERT INTO answers_fts (question_id, run_id, body) VALUES (NEW.id, NEW.run_id, NEW.text || ' ' || NEW.answer);
END;
CREATE TRIGGER questions_fts_update AFTER UPDATE ON questions
BEGIN
    DELETE FROM answers_fts WHERE question_id = OLD.id;
    INSERT INTO answers_fts (question_id, run_id, body)
    SELECT NEW.id, NEW.run_id, NEW.text || ' ' || NEW.answer
    WHERE NEW.status IN ('ACCEPTED', 'ANSWERED_BY_HUMAN') AND NEW.answer IS NOT NULL;
END;

CREATE TABLE assumptions (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    phase       TEXT NOT NULL,
    code        TEXT NOT NULL,
    question_id TEXT REFERENCES questions (id),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (run_id, code)
);

CREATE TABLE gate_evaluations (
    id         TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    phase      TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    score      REAL NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('PASS', 'WARN', 'FAIL')),
    metrics    TEXT NOT NULL,
    findings   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX gate_evaluations_run ON gate_evaluations (run_id, phase);

CREATE TABLE waivers (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id),
    phase         TEXT NOT NULL,
    granted_by    TEXT NOT NULL,
    justification TEXT NOT NULL,
    expires_at    TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE budget_scopes (
    id                       TEXT PRIMARY KEY,
    run_id                   TEXT NOT NULL REFERENCES runs (id),
    kind                     TEXT NOT NULL CHECK (kind IN ('run', 'phase', 'task')),
    name                     TEXT NOT NULL,
    parent_id                TEXT REFERENCES budget_scopes (id),
    limit_tokens             INTEGER,
    limit_usd                REAL,
    limit_wall_clock_seconds REAL,
    reserved_tokens          INTEGER NOT NULL DEFAULT 0,
    reserved_usd             REAL NOT NULL DEFAULT 0,
    used_tokens              INTEGER NOT NULL DEFAULT 0,
    used_usd                 REAL NOT NULL DEFAULT 0,
    created_at               TEXT NOT NULL,
    UNIQUE (run_id, kind, name)
);

-- reservations in flight: settle deletes its row, so a reservation is released once
CREATE TABLE budget_reservations (
    id         TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    scope_ids  TEXT NOT NULL,
    tokens     INTEGER NOT NULL,
    usd        REAL NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE budget_events (
    id         TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    scope_id   TEXT NOT NULL REFERENCES budget_scopes (id),
    threshold  INTEGER NOT NULL CHECK (threshold IN (50, 80, 95, 100)),
    dimension  TEXT NOT NULL CHECK (dimension IN ('tokens', 'usd')),
    created_at TEXT NOT NULL,
    UNIQUE (scope_id, threshold)
);

CREATE TABLE llm_calls (
    id            TEXT PRIMARY KEY,
    run_id        TEXT,
    task_id       TEXT,
    phase         TEXT,
    agent         TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd      REAL NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error         TEXT,
    latency_ms    REAL NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX llm_calls_run ON llm_calls (run_id, created_at);
CREATE INDEX llm_calls_task ON llm_calls (task_id);

CREATE TABLE agent_hosts (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    address           TEXT NOT NULL,
    agents            TEXT NOT NULL,
    capacity          INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('UP', 'DRAINING', 'DOWN')),
    last_heartbeat_at TEXT NOT NULL,
    registered_at     TEXT NOT NULL
);

CREATE TABLE run_leases (
    run_id     TEXT PRIMARY KEY REFERENCES runs (id),
    owner      TEXT NOT NULL,
    fence      INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);

PRAGMA user_version = 3;
