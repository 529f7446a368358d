-- Help requests. `skills` holds what is needed and how many are accepted per skill:
-- [{"slug", "min_level", "people", "accepted"}]. The totals are kept beside it so the database itself
-- refuses an over-filled request, whatever the code does.
CREATE TABLE requests (
    id                uuid PRIMARY KEY,
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 120),
    description       text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    constituency_code text NOT NULL,
    remote_ok         boolean NOT NULL DEFAULT false,
    skills            jsonb NOT NULL CHECK (jsonb_typeof(skills) = 'array' AND jsonb_array_length(skills) >= 1),
    starts_at         timestamptz,
    ends_at           timestamptz,
    urgency           text NOT NULL CHECK (urgency IN ('low', 'normal', 'high')),
    status            text NOT NULL CHECK (status IN ('pending', 'open', 'filled', 'completed', 'cancelled')),
    outcome           text CHECK (outcome IN ('completed', 'cancelled', 'rejected')),
    source            text NOT NULL CHECK (source IN ('web', 'x')),
    -- Where it came from outside the web (the tweet id for source x).
    source_ref        text,
    -- No account behind a pending request from an X author who has not linked one.
    created_by        uuid,
    people_needed     integer NOT NULL CHECK (people_needed >= 1),
    people_accepted   integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    closed_at         timestamptz,
    -- Free-text search over title and description (English stemming; no extension needed).
    search            tsvector GENERATED ALWAYS AS (
                          to_tsvector('english'::regconfig, title || ' ' || description)) STORED,
    CHECK (people_accepted BETWEEN 0 AND people_needed),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    CHECK ((status IN ('completed', 'cancelled')) = (outcome IS NOT NULL)),
    CHECK (status <> 'filled' OR people_accepted = people_needed)
);
-- Browse: by status, newest first (keyset pagination on created_at, id).
CREATE INDEX requests_by_status ON requests (status, created_at DESC, id DESC);
-- Browse one constituency; organisers list their pending requests.
CREATE INDEX requests_by_constituency ON requests (constituency_code, status, created_at DESC, id DESC);
-- GET /me/requests.
CREATE INDEX requests_by_owner ON requests (created_by, created_at DESC, id DESC) WHERE created_by IS NOT NULL;
-- Browse by skill: skills @> '[{"slug": "..."}]'.
CREATE INDEX requests_skills ON requests USING gin (skills jsonb_path_ops);
CREATE INDEX requests_search ON requests USING gin (search);

CREATE TABLE offers (
    id            uuid PRIMARY KEY,
    request_id    uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL,
    message       text NOT NULL DEFAULT '' CHECK (length(message) <= 1000),
    skill         text,
    -- The skill an accepted offer is counted against.
    counted_skill text,
    status        text NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CHECK ((status = 'accepted') = (counted_skill IS NOT NULL) OR status = 'withdrawn')
);
-- One live offer per person per request, even if two arrive at once.
CREATE UNIQUE INDEX offers_one_live ON offers (request_id, user_id) WHERE status IN ('pending', 'accepted');
CREATE INDEX offers_by_request ON offers (request_id, created_at DESC, id DESC);
CREATE INDEX offers_by_user ON offers (user_id, created_at DESC, id DESC);

CREATE TABLE invitations (
    id         uuid PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    invited_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (request_id, user_id)
);
CREATE INDEX invitations_by_user ON invitations (user_id, created_at DESC, id DESC);

-- Projections of other services' events.
-- Display names from identity; `as_of` is the event time, so an older event never overwrites a newer one.
CREATE TABLE people (
    user_id      uuid PRIMARY KEY,
    display_name text NOT NULL,
    as_of        timestamptz NOT NULL
);

-- The skill taxonomy from the skills service; a request may ask only for skills listed here.
CREATE TABLE skills (
    slug     text PRIMARY KEY,
    name     text NOT NULL,
    category text NOT NULL DEFAULT '',
    as_of    timestamptz NOT NULL
);
