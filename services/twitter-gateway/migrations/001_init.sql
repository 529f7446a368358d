-- The twitter gateway's own state. What is never stored: an X author's id or handle unless that person
-- linked their X account here; tokens in the clear; tweet text after the tweet was deleted on X or its
-- author erased.

-- Sign-in with X in progress: one row per authorize redirect, consumed (deleted) by the callback.
-- `state_hash` is sha256 of the random state, so a database read does not hand out live states.
CREATE TABLE oauth_states (
    state_hash           text PRIMARY KEY,
    code_verifier_sealed text NOT NULL,
    mode                 text NOT NULL CHECK (mode IN ('login', 'link')),
    user_id              uuid,
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    CHECK ((mode = 'link') = (user_id IS NOT NULL))
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- People who linked (or signed in with) X. Tokens sealed with the token keys, bound to the user id.
CREATE TABLE x_accounts (
    user_id               uuid PRIMARY KEY,
    x_user_id             text NOT NULL UNIQUE,
    handle                text NOT NULL,
    access_token_sealed   text NOT NULL,
    refresh_token_sealed  text,
    expires_at            timestamptz NOT NULL,
    scopes                text[] NOT NULL DEFAULT '{}',
    linked_at             timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Consent to be contacted by X direct message, from identity's events; `as_of` is the event time so an
-- older event never overwrites a newer one.
CREATE TABLE people (
    user_id      uuid PRIMARY KEY,
    contact_by_x boolean NOT NULL,
    as_of        timestamptz NOT NULL
);

-- The skill taxonomy from the skills service, for reading skills out of tweets.
CREATE TABLE skills (
    slug     text PRIMARY KEY,
    name     text NOT NULL,
    synonyms text[] NOT NULL DEFAULT '{}',
    as_of    timestamptz NOT NULL
);

-- Tweets read from X. No author id or handle: `author_user_id` only when the author linked X here.
CREATE TABLE tweets (
    tweet_id          text PRIMARY KEY,
    text              text,
    author_user_id    uuid,
    intent            text NOT NULL CHECK (intent IN ('ask', 'offer', 'other')),
    skills            text[] NOT NULL DEFAULT '{}',
    constituency_code text,
    posted_at         timestamptz NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    request_id        uuid,
    replied_tweet_id  text,
    deleted_at        timestamptz,
    last_checked_at   timestamptz,
    CHECK (deleted_at IS NULL OR text IS NULL)
);
-- The deletion check: tweets that still hold text, least recently checked first.
CREATE INDEX tweets_to_check ON tweets (last_checked_at NULLS FIRST, tweet_id) WHERE text IS NOT NULL;
-- Erasure: a person's tweets.
CREATE INDEX tweets_by_author ON tweets (author_user_id) WHERE author_user_id IS NOT NULL;

-- Requests' titles (for DM texts) and where they came from (for replies), from requests' events.
CREATE TABLE requests (
    request_id uuid PRIMARY KEY,
    title      text NOT NULL,
    status     text NOT NULL,
    source     text NOT NULL,
    source_ref text,
    as_of      timestamptz NOT NULL
);

-- Per stream ('mentions', 'search'): the newest tweet id handled, so a restart neither re-reads nor skips.
CREATE TABLE cursors (
    stream       text PRIMARY KEY,
    since_id     text,
    last_poll_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The admin's settings: one row, created from the service's defaults on first start.
CREATE TABLE x_settings (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    hashtags            text[] NOT NULL,
    poll_interval_s     integer NOT NULL CHECK (poll_interval_s BETWEEN 15 AND 3600),
    monthly_read_budget integer NOT NULL CHECK (monthly_read_budget >= 0),
    monthly_post_budget integer NOT NULL CHECK (monthly_post_budget >= 0),
    posting_enabled     boolean NOT NULL,
    updated_by          uuid,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Use of X's monthly caps, per calendar month (UTC): tweets read, and replies and DMs sent.
CREATE TABLE usage (
    month date PRIMARY KEY,
    reads integer NOT NULL DEFAULT 0,
    posts integer NOT NULL DEFAULT 0
);

-- What the gateway has to say to X: consumers and requests only enqueue here; the sender loop sends.
-- `payload` holds no secrets (reply: in_reply_to, text; dm: user_id, text); a revoke's tokens are in
-- `sealed`, bound to the dedupe key.
CREATE TABLE outgoing (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('reply', 'dm', 'revoke')),
    payload         jsonb NOT NULL DEFAULT '{}',
    sealed          text,
    dedupe_key      text NOT NULL UNIQUE,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    -- Set when it will not be sent: given up after the last attempt, or cancelled (unlinked, erased).
    closed_at       timestamptz,
    outcome         text CHECK (outcome IN ('sent', 'failed', 'cancelled')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outgoing_due ON outgoing (next_attempt_at) WHERE closed_at IS NULL;
