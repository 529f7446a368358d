CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) <= 254),
    email_lower   text GENERATED ALWAYS AS (lower(email)) STORED,
    password_hash text,
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 80),
    consents      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Emails are compared case-insensitively: one account per address however it is typed.
CREATE UNIQUE INDEX users_email_lower ON users (email_lower);
-- Admin search pages newest first.
CREATE INDEX users_created ON users (created_at DESC, id DESC);

-- Consents per purpose, append-only: who agreed to what wording, and when.
CREATE TABLE consent_records (
    id              bigserial PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose         text NOT NULL,
    granted         boolean NOT NULL,
    wording_version text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_records_user ON consent_records (user_id, purpose, recorded_at DESC);

-- Every user is a supporter; these are the extra roles.
CREATE TABLE user_roles (
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('organiser', 'admin')),
    constituency_code text NOT NULL DEFAULT '',
    granted_by        uuid,
    granted_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role, constituency_code),
    CHECK ((role = 'organiser') = (constituency_code <> ''))
);

-- Refresh tokens are stored hashed; a family is one sign-in and every rotation after it.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    family_id  uuid NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Failed sign-ins, per account and source address, for throttling.
CREATE TABLE login_failures (
    id          bigserial PRIMARY KEY,
    email_lower text NOT NULL,
    source      text NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key ON login_failures (email_lower, source, failed_at);
