-- Erased people, named only by sha256 of their user id (lowercase hex of the id's canonical text): a late
-- or replayed event about someone listed here is ignored instead of re-creating what erasure removed.
-- (IF NOT EXISTS: these tables were first created by the services' own migrations.)
CREATE TABLE IF NOT EXISTS erased_people (
    subject_hash text PRIMARY KEY CHECK (subject_hash ~ '^[0-9a-f]{64}$'),
    erased_at    timestamptz NOT NULL DEFAULT now()
);

-- Outbox rows that name an erased person and were still unpublished at erasure: they go out as usual (in
-- order, so others' views stay right), then the sweeper deletes them. Event ids only.
CREATE TABLE IF NOT EXISTS outbox_purge (
    event_id uuid PRIMARY KEY
);
