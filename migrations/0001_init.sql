-- 0001_init: the core schema of IdeaMine's durable state.
--
-- One id type (uuid, time-ordered v7 made by ideamine.ids.new_id), times as timestamptz
-- written by the application (so both backends agree on them and on ledger hashes),
-- JSON as jsonb. Status columns store the member *names* of ideamine/enums.py under
-- CHECK constraints; tests/store_pg compares those lists with the enums.
-- Forward-only: never edit this file once applied; add 0002_... instead.

-- ------------------------------------------------------------------------ runs
CREATE TABLE runs (
    id                         uuid PRIMARY KEY,
    tenant                     text NOT NULL,
    title                      text NOT NULL,
    idea                       jsonb NOT NULL,
    phases                     text[] NOT NULL,
    budget_tokens              bigint,
    budget_usd                 double precision,
    budget_wall_clock_seconds  double precision,
    policy                     text NOT NULL CONSTRAINT runs_policy_check
        CHECK (policy IN ('AUTONOMOUS', 'ASK_ON_BLOCKING', 'APPROVE_EACH_PHASE')),
    status                     text NOT NULL CONSTRAINT runs_status_check
        CHECK (status IN ('PENDING', 'RUNNING', 'PAUSED', 'AWAITING_INPUT', 'NEEDS_WAIVER',
                          'BUDGET_EXHAUSTED', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    status_reason              text NOT NULL DEFAULT '',
    created_by                 text NOT NULL DEFAULT '',
    labels                     jsonb NOT NULL DEFAULT '{}',
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    finished_at                timestamptz
);
CREATE INDEX runs_newest ON runs (id DESC);
CREATE INDEX runs_tenant_newest ON runs (tenant, id DESC);
CREATE INDEX runs_unfinished ON runs (id) WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED');

-- ------------------------------------------------------------ phase executions
CREATE TABLE phase_executions (
    id           uuid PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES runs (id),
    phase        text NOT NULL,
    status       text NOT NULL CONSTRAINT phase_executions_status_check
        CHECK (status IN ('PENDING', 'RUNNING', 'AWAITING_INPUT', 'SUCCEEDED', 'WAIVED', 'FAILED', 'CANCELLED')),
    attempt      integer NOT NULL CHECK (attempt >= 1),
    plan_hash    text NOT NULL DEFAULT '',
    score        double precision,
    decision     text CONSTRAINT phase_executions_decision_check
        CHECK (decision IN ('PASS', 'WARN', 'FAIL')),
    started_at   timestamptz,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (run_id, phase)
);

-- ----------------------------------------------------------------------- tasks
CREATE TABLE tasks (
    id                uuid PRIMARY KEY,
    run_id            uuid NOT NULL REFERENCES runs (id),
    phase             text NOT NULL,
    phase_attempt     integer NOT NULL DEFAULT 1,
    task_key          text NOT NULL,
    agent             text NOT NULL,
    agent_version     text NOT NULL,
    idempotency_key   text NOT NULL,
    input             jsonb NOT NULL DEFAULT '{}',
    status            text NOT NULL CONSTRAINT tasks_status_check
        CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')),
    attempt           integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    worker            text,
    lease_expires_at  timestamptz,
    deadline          timestamptz,
    max_deliveries    integer NOT NULL DEFAULT 5,
    error             text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz
);
CREATE INDEX tasks_run ON tasks (run_id, id);
CREATE INDEX tasks_idempotency_key ON tasks (idempotency_key);
CREATE INDEX tasks_unfinished ON tasks (id) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE status = 'RUNNING';

-- exactly-once effect: one committed result per idempotency key
CREATE TABLE task_results (
    idempotency_key  text PRIMARY KEY,
    task_id          uuid NOT NULL REFERENCES tasks (id),
    attempt          integer NOT NULL,
    status           text NOT NULL CONSTRAINT task_results_status_check
        CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')),
    output           jsonb NOT NULL DEFAULT '{}',
    artifact_ids     uuid[] NOT NULL DEFAULT '{}',
    committed_at     timestamptz NOT NULL
);

-- ------------------------------------------------------------------- artifacts
CREATE TABLE artifacts (
    id                  uuid PRIMARY KEY,
    run_id              uuid NOT NULL REFERENCES runs (id),
    phase               text NOT NULL,
    type                text NOT NULL,
    key                 text NOT NULL DEFAULT '',
    version             integer NOT NULL CHECK (version >= 1),
    content             jsonb NOT NULL,
    sha256              text NOT NULL,
    model               text NOT NULL,
    task_id             uuid REFERENCES tasks (id),
    input_artifact_ids  uuid[] NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL,
    CONSTRAINT artifacts_version_unique UNIQUE (run_id, type, key, version)
);
CREATE INDEX artifacts_run ON artifacts (run_id, id);

-- ---------------------------------------------------------------------- ledger
-- Append-only and hash-chained: hash = sha256(prev_hash || canonical content), computed by
-- ideamine.store.ledger. seq comes from ledger_heads, whose row is locked (UPDATE) by the
-- appending transaction, so two writers never pick the same seq or fork the chain.
CREATE TABLE ledger_heads (
    run_id     uuid PRIMARY KEY REFERENCES runs (id),
    last_seq   bigint NOT NULL DEFAULT 0,
    last_hash  text NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000'
);

CREATE TABLE ledger (
    run_id      uuid NOT NULL REFERENCES runs (id),
    seq         bigint NOT NULL CHECK (seq >= 1),
    type        text NOT NULL,
    phase       text,
    task_id     uuid,
    payload     jsonb NOT NULL DEFAULT '{}',
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();

-- ---------------------------------------------------------------------- outbox
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    task_id     uuid,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (topic, id) WHERE published_at IS NULL;

-- ---------------------------------------------------------------------- timers
CREATE TABLE timers (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id),
    kind        text NOT NULL,
    key         text NOT NULL,
    fire_at     timestamptz NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    fired_at    timestamptz,
    claimed_by  text,
    claimed_at  timestamptz,
    created_at  timestamptz NOT NULL,
    CONSTRAINT timers_run_kind_key UNIQUE (run_id, kind, key)
);
CREATE INDEX timers_due ON timers (fire_at) WHERE fired_at IS NULL AND claimed_by IS NULL;

-- ----------------------------------------------------------------- checkpoints
CREATE TABLE checkpoints (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id),
    phase       text NOT NULL,
    attempt     integer NOT NULL,
    state       jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX checkpoints_run_phase ON checkpoints (run_id, phase, id);

-- ---------------------------------------------------------------------- Q/A/V
-- Answers are columns of their question (one current answer per question). The GIN index
-- covers question + answer text of accepted answers only: the run's knowledge base
-- (ideamine.store._shared.ACCEPTED_ANSWER_STATUSES); queries repeat its expression.
CREATE TABLE questions (
    id           uuid PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES runs (id),
    phase        text NOT NULL,
    code         text NOT NULL,
    text         text NOT NULL,
    blocking     boolean NOT NULL,
    status       text NOT NULL CONSTRAINT questions_status_check
        CHECK (status IN ('OPEN', 'ACCEPTED', 'ASSUMED', 'AWAITING_HUMAN', 'ANSWERED_BY_HUMAN')),
    answer       text,
    confidence   double precision,
    scores       jsonb NOT NULL DEFAULT '{}',
    answered_by  text,
    deadline     timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (run_id, code)
);
CREATE INDEX questions_run ON questions (run_id, id);
CREATE INDEX questions_answers_fts ON questions
    USING gin (to_tsvector('english', text || ' ' || coalesce(answer, '')))
    WHERE status IN ('ACCEPTED', 'ANSWERED_BY_HUMAN');

CREATE TABLE assumptions (
    id           uuid PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES runs (id),
    phase        text NOT NULL,
    code         text NOT NULL,
    question_id  uuid REFERENCES questions (id),
    text         text NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (run_id, code)
);

-- ----------------------------------------------------------------------- gates
CREATE TABLE gate_evaluations (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id),
    phase       text NOT NULL,
    attempt     integer NOT NULL,
    score       double precision NOT NULL,
    decision    text NOT NULL CONSTRAINT gate_evaluations_decision_check
        CHECK (decision IN ('PASS', 'WARN', 'FAIL')),
    metrics     jsonb NOT NULL DEFAULT '[]',
    findings    jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL
);
CREATE INDEX gate_evaluations_run ON gate_evaluations (run_id, id);

CREATE TABLE waivers (
    id             uuid PRIMARY KEY,
    run_id         uuid NOT NULL REFERENCES runs (id),
    phase          text NOT NULL,
    granted_by     text NOT NULL,
    justification  text NOT NULL,
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL
);
CREATE INDEX waivers_run ON waivers (run_id, id);

-- --------------------------------------------------------------------- budgets
-- Money is numeric so reserve/settle arithmetic is exact (floats drift under +/-).
CREATE TABLE budget_scopes (
    id                         uuid PRIMARY KEY,
    run_id                     uuid NOT NULL REFERENCES runs (id),
    kind                       text NOT NULL CHECK (kind IN ('run', 'phase', 'task')),
    name                       text NOT NULL,
    parent_id                  uuid REFERENCES budget_scopes (id),
    limit_tokens               bigint,
    limit_usd                  numeric,
    limit_wall_clock_seconds   double precision,
    reserved_tokens            bigint NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0),
    reserved_usd               numeric NOT NULL DEFAULT 0 CHECK (reserved_usd >= 0),
    used_tokens                bigint NOT NULL DEFAULT 0,
    used_usd                   numeric NOT NULL DEFAULT 0,
    created_at                 timestamptz NOT NULL,
    CONSTRAINT budget_scopes_run_kind_name UNIQUE (run_id, kind, name)
);

CREATE TABLE budget_reservations (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id),
    scope_ids   uuid[] NOT NULL,
    tokens      bigint NOT NULL,
    usd         numeric NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE budget_events (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id),
    scope_id    uuid NOT NULL REFERENCES budget_scopes (id),
    dimension   text NOT NULL CHECK (dimension IN ('tokens', 'usd')),
    threshold   integer NOT NULL CHECK (threshold IN (50, 80, 95, 100)),
    created_at  timestamptz NOT NULL,
    CONSTRAINT budget_events_once UNIQUE (scope_id, threshold)  -- once per scope, whichever dimension crossed first
);
CREATE INDEX budget_events_run ON budget_events (run_id, id);

-- ------------------------------------------------------------------- llm calls
CREATE TABLE llm_calls (
    id             uuid PRIMARY KEY,
    run_id         uuid,
    task_id        uuid,
    phase          text,
    agent          text NOT NULL,
    provider       text NOT NULL,
    model          text NOT NULL,
    request_hash   text NOT NULL,
    input_tokens   integer NOT NULL,
    output_tokens  integer NOT NULL,
    cost_usd       double precision NOT NULL,
    status         text NOT NULL CHECK (status IN ('ok', 'error')),
    error          text,
    latency_ms     double precision NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX llm_calls_run ON llm_calls (run_id, id);
CREATE INDEX llm_calls_task ON llm_calls (task_id, id);

-- ---------------------------------------------------------- hosts and leases
CREATE TABLE agent_hosts (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL,
    address            text NOT NULL,
    agents             jsonb NOT NULL DEFAULT '[]',
    capacity           integer NOT NULL,
    status             text NOT NULL CHECK (status IN ('UP', 'DRAINING', 'DOWN')),
    last_heartbeat_at  timestamptz NOT NULL,
    registered_at      timestamptz NOT NULL
);

CREATE TABLE run_leases (
    run_id      uuid PRIMARY KEY REFERENCES runs (id),
    owner       text NOT NULL,
    fence       bigint NOT NULL CHECK (fence >= 1),
    expires_at  timestamptz NOT NULL
);
