-- Erasures a person asked for. The account itself is deleted; this row is all that is left of it, and
-- it names the person only by sha256 of their user id (hex): enough to answer "was this id erased, and
-- has every service finished?" for someone who already knows the id, and useless to anyone who does not.
-- It is also the tombstone: the id is never given out again and late events cannot bring it back.
CREATE TABLE erasures (
    subject_hash text PRIMARY KEY CHECK (subject_hash ~ '^[0-9a-f]{64}$'),
    requested_at timestamptz NOT NULL,
    -- The services that must confirm, and those that have, by name (skills, requests, matcher, twitter).
    services     text[] NOT NULL,
    confirmed    text[] NOT NULL DEFAULT '{}',
    completed_at timestamptz
);
CREATE INDEX erasures_pending ON erasures (requested_at) WHERE completed_at IS NULL;
