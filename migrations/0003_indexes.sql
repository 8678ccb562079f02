-- Index changes. First, indexes that fit the store's generic plans (ideamine/store/postgres/db.py plans each
-- prepared statement once per connection, often while the tables are still small).
--
-- outbox_unpublished (topic, id) served no query: the per-topic reads filter with
-- "($1 IS NULL OR topic = $1)", which a generic plan cannot turn into an index condition.
-- It did harm: planned while the table was small, "UPDATE outbox ... WHERE id = ANY($1)
-- AND published_at IS NULL" (RunStore.mark_published) chose it, and with id as its second
-- column every call read the whole index, dead entries included: about 20 ms per call
-- after 10,000 tasks (bench/throughput.py). Without it, that statement reaches its rows
-- through an index that leads with id.
DROP INDEX outbox_unpublished;

-- timers_due left out claimed timers, but the claim query also takes over claims that
-- were abandoned ("claimed_by IS NULL OR claimed_at < $6"), so no index matched it and
-- every poll read every timer ever armed. This one holds every unfired timer.
DROP INDEX timers_due;
CREATE INDEX timers_unfired ON timers (fire_at) WHERE fired_at IS NULL;

-- No statement looks tasks up by idempotency key (results are found through task_results,
-- keyed by it), yet every version of a task row (created, started, finished: three, as
-- status changes are never HOT updates) added a 64-character key to this index. Dropping it
-- took ~10 % off PostgreSQL's CPU per no-op task (bench/throughput.py, 10,000 tasks).
DROP INDEX tasks_idempotency_key;
