-- Outbox claims: every relay (orchestrator replicas, agent hosts) used to read and publish
-- the same unpublished rows, so N relays published each row up to N times. A relay now
-- claims the rows it publishes (RunStore.claim_outbox): claimed_by names it, and until
-- claimed_until no other relay takes them; a relay that dies leaves the claim to expire.
ALTER TABLE outbox ADD COLUMN claimed_by text;
ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;

-- The claim query reads unpublished rows of every topic in id order (one round trip per
-- batch); outbox_unpublished (topic, id) serves the per-topic reads. Both stay small:
-- rows leave them once published.
CREATE INDEX outbox_claimable ON outbox (id) INCLUDE (claimed_until) WHERE published_at IS NULL;
