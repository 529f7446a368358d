-- Accounts made by signing in with X have no email and no password until the person adds them.
-- Emails stay unique case-insensitively for those that have one (NULLs never collide).
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;

-- The X account linked to a user: one per user, and one user per X account. Written when identity
-- creates an account from an X sign-in, and from the twitter gateway's link and unlink events.
CREATE TABLE x_links (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    x_user_id  text NOT NULL UNIQUE CHECK (length(x_user_id) BETWEEN 1 AND 32),
    handle     text NOT NULL CHECK (length(handle) BETWEEN 1 AND 50),
    -- The time of the newest link event applied, so an older event never undoes a newer one.
    as_of      timestamptz NOT NULL
);
