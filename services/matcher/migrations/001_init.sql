-- Projections built only from other services' events, and the counters the statistics read.
-- Every row that mirrors a whole-state event keeps the `time` of that event (`as_of`):
-- an older event arriving later changes nothing.

-- Constituency centroids (lx_contracts.constituencies), written at start-up so SQL can measure distance.
CREATE TABLE constituencies (
    code   text PRIMARY KEY,
    nation text NOT NULL,
    region text NOT NULL,
    lat    double precision NOT NULL,
    lon    double precision NOT NULL
);

-- Great-circle distance in km (haversine); a plain SQL function, so the planner inlines it.
CREATE FUNCTION km_between(lat1 double precision, lon1 double precision, lat2 double precision, lon2 double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 2 * 6371.0 * asin(least(1.0, sqrt(
        power(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2))))
$$;

-- identity.user-registered.v1 / user-updated.v1 (an update means the account is claimed).
CREATE TABLE people (
    user_id      uuid PRIMARY KEY,
    display_name text NOT NULL,
    discoverable boolean NOT NULL,
    contact_by_x boolean NOT NULL,
    invited      boolean NOT NULL DEFAULT false,
    as_of        timestamptz NOT NULL
);

-- skills.profile-updated.v1, the whole profile each time.
CREATE TABLE profiles (
    user_id            uuid PRIMARY KEY,
    constituency_code  text,
    travel_radius_km   integer NOT NULL,
    remote_ok          boolean NOT NULL,
    max_hours_per_week integer,
    availability       jsonb NOT NULL DEFAULT '[]',
    skills             jsonb NOT NULL DEFAULT '{}',  -- {slug: level}
    as_of              timestamptz NOT NULL
);

-- One row per skill of each supporter who may be matched (discoverable, claimed, with a profile):
-- derived from people and profiles whenever either changes, so the candidate search reads one table.
CREATE TABLE candidates (
    user_id           uuid NOT NULL,
    slug              text NOT NULL,
    level             smallint NOT NULL,
    constituency_code text,
    lat               double precision,
    lon               double precision,
    travel_radius_km  integer NOT NULL,
    remote_ok         boolean NOT NULL,
    PRIMARY KEY (user_id, slug)
);
-- "Who holds this skill at this level or better" in these constituencies; remote holders anywhere.
-- Covering, so the search reads the index alone; the radius is a key so that, in a constituency
-- d km away, only the entries of people travelling at least d km are read.
CREATE INDEX candidates_slug_place ON candidates (slug, constituency_code, travel_radius_km, level)
    INCLUDE (user_id, remote_ok);
CREATE INDEX candidates_remote ON candidates (slug, level)
    INCLUDE (user_id, constituency_code, travel_radius_km, lat, lon) WHERE remote_ok;
-- The longest radius anyone travels bounds which constituencies a request's search looks in.
CREATE INDEX candidates_radius ON candidates (travel_radius_km);

-- requests.request-opened/updated.v1 (whole state) and request-closed.v1 (terminal).
-- A close that arrives before the request leaves a row with only the closing filled in.
CREATE TABLE requests (
    request_id        uuid PRIMARY KEY,
    title             text,
    constituency_code text,
    remote_ok         boolean,
    starts_at         timestamptz,
    ends_at           timestamptz,
    urgency           text,
    state_status      text,
    source            text,
    created_by        uuid,
    created_at        timestamptz,
    people_needed     integer,
    people_accepted   integer,
    state_as_of       timestamptz,
    outcome           text,  -- completed, cancelled or rejected, once closed
    closed_at         timestamptz,
    -- The status the matcher acts on: the outcome once closed, else the latest whole state's.
    status            text,
    first_offer_at    timestamptz,
    filled_at         timestamptz
);
CREATE INDEX requests_open_place ON requests (constituency_code) WHERE status = 'open';
CREATE INDEX requests_place ON requests (constituency_code);

CREATE TABLE request_skills (
    request_id uuid NOT NULL,
    slug       text NOT NULL,
    min_level  smallint NOT NULL,
    people     integer NOT NULL,
    PRIMARY KEY (request_id, slug)
);
-- Opportunities: open requests needing a skill at or below a person's level.
CREATE INDEX request_skills_slug ON request_skills (slug, min_level, request_id);

-- requests.offer-*.v1, keyed by offer, so an offer may arrive before its request.
CREATE TABLE offers (
    offer_id   uuid PRIMARY KEY,
    request_id uuid NOT NULL,
    user_id    uuid NOT NULL,
    status     text NOT NULL,  -- pending, accepted, declined, withdrawn
    made_at    timestamptz,
    -- When accepting this offer filled its request (kept here in case the request is not yet known).
    filled_at  timestamptz,
    as_of      timestamptz NOT NULL
);
CREATE INDEX offers_request_user ON offers (request_id, user_id);
CREATE INDEX offers_accepted_user ON offers (user_id, request_id) WHERE status = 'accepted';
CREATE INDEX offers_user ON offers (user_id, request_id);

-- requests.invitation-sent.v1
CREATE TABLE invitations (
    invitation_id uuid PRIMARY KEY,
    request_id    uuid NOT NULL,
    user_id       uuid NOT NULL,
    at            timestamptz NOT NULL
);
CREATE INDEX invitations_user_at ON invitations (user_id, at);

-- Proposals made when a request opened (matcher.match-proposed.v1), for the per-supporter limit.
CREATE TABLE proposals (
    request_id  uuid NOT NULL,
    user_id     uuid NOT NULL,
    score       double precision NOT NULL,
    proposed_at timestamptz NOT NULL,
    PRIMARY KEY (request_id, user_id)
);
CREATE INDEX proposals_user_at ON proposals (user_id, proposed_at);
-- Requests already considered for proposals: a request is proposed for once.
CREATE TABLE proposal_runs (
    request_id uuid PRIMARY KEY,
    run_at     timestamptz NOT NULL
);

-- Statistics counters, changed by the handlers as rows above change (never by scanning).
CREATE TABLE stat_requests (
    constituency_code text NOT NULL,
    status            text NOT NULL,
    n                 integer NOT NULL,
    PRIMARY KEY (constituency_code, status)
);
CREATE TABLE stat_supporters (
    constituency_code text NOT NULL,
    slug              text NOT NULL,
    n                 integer NOT NULL,
    PRIMARY KEY (constituency_code, slug)
);
-- People needed per skill by open requests in each constituency.
CREATE TABLE stat_demand (
    constituency_code text NOT NULL,
    slug              text NOT NULL,
    people            integer NOT NULL,
    PRIMARY KEY (constituency_code, slug)
);

-- Skill names (skills.skill-added.v1), for readable reasons.
CREATE TABLE skill_names (
    slug  text PRIMARY KEY,
    name  text NOT NULL,
    as_of timestamptz NOT NULL
);
