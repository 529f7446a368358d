-- The skill taxonomy. Slugs are the stable ids other services and events use.
CREATE TABLE skills (
    slug         text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) BETWEEN 2 AND 60),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    category     text NOT NULL CHECK (category ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(category) <= 40),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- Words that name the skill in free text (tweets): lowercase, each once.
    synonyms     text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- When skills.skill-added.v1 was written to the outbox; NULL until then (seeded rows start so).
    announced_at timestamptz
);
-- Two skills may not share a name, however it is typed.
CREATE UNIQUE INDEX skills_name_lower ON skills (lower(name));
-- Start-up looks for skills not yet announced.
CREATE INDEX skills_unannounced ON skills (slug) WHERE announced_at IS NULL;

-- People as identity describes them (identity.user-registered.v1 / user-updated.v1), newest event wins.
CREATE TABLE people (
    user_id      uuid PRIMARY KEY,
    display_name text NOT NULL,
    discoverable boolean NOT NULL,
    contact_by_x boolean NOT NULL,
    invited      boolean NOT NULL DEFAULT false,
    -- The `time` of the event this row reflects; an older event arriving later changes nothing.
    as_of        timestamptz NOT NULL
);
-- Organiser search lists discoverable people by name.
CREATE INDEX people_discoverable_name ON people (display_name, user_id) WHERE discoverable;

-- Volunteer profiles. The defaults are the empty profile a person has before saving one.
CREATE TABLE profiles (
    user_id            uuid PRIMARY KEY,
    constituency_code  text,
    travel_radius_km   integer NOT NULL DEFAULT 0 CHECK (travel_radius_km BETWEEN 0 AND 500),
    remote_ok          boolean NOT NULL DEFAULT false,
    max_hours_per_week integer CHECK (max_hours_per_week BETWEEN 0 AND 168),
    -- Weekly windows [{day, start, end}], in canonical order (day, then start).
    availability       jsonb NOT NULL DEFAULT '[]',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- Organiser search within one constituency.
CREATE INDEX profiles_constituency ON profiles (constituency_code, user_id);

CREATE TABLE profile_skills (
    user_id uuid NOT NULL REFERENCES profiles (user_id) ON DELETE CASCADE,
    slug    text NOT NULL REFERENCES skills (slug),
    level   smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    note    text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    PRIMARY KEY (user_id, slug)
);
-- "Who has this skill at this level or better."
CREATE INDEX profile_skills_slug_level ON profile_skills (slug, level, user_id);
