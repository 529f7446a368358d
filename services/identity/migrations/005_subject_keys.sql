-- The key vault: one random 256-bit key per person, which seals their personal fields in every event
-- (lx_platform.sealing; docs/adr/0015-sealed-personal-fields.md). Identity owns it: the schema is made
-- for identity's role by the database's bootstrap, and no other role may read these tables. Other
-- services may only call `subject_key` (the key for an id they already know, made on first use) and
-- `key_of` (the key whose id a sealed value carries). When a person's erasure is complete identity
-- calls `shred`: the key is destroyed, and a hash of the id keeps it from ever being made again, so
-- every message the topics still hold about the person becomes unreadable.
CREATE TABLE IF NOT EXISTS keyvault.subject_keys (
    user_id    uuid PRIMARY KEY,
    kid        uuid NOT NULL UNIQUE,
    key        bytea NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS keyvault.shredded (
    subject_hash text PRIMARY KEY CHECK (subject_hash ~ '^[0-9a-f]{64}$'),
    shredded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION keyvault.subject_key(p_user_id uuid, p_new_key bytea)
RETURNS TABLE (kid uuid, key bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM keyvault.shredded s
               WHERE s.subject_hash = encode(sha256(convert_to(p_user_id::text, 'UTF8')), 'hex')) THEN
        RETURN;  -- erased: no key, now or ever
    END IF;
    INSERT INTO keyvault.subject_keys (user_id, kid, key)
    VALUES (p_user_id, gen_random_uuid(), p_new_key)
    ON CONFLICT (user_id) DO NOTHING;
    RETURN QUERY SELECT k.kid, k.key FROM keyvault.subject_keys k WHERE k.user_id = p_user_id;
END
$$;

CREATE OR REPLACE FUNCTION keyvault.key_of(p_kid uuid)
RETURNS TABLE (user_id uuid, key bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT k.user_id, k.key FROM keyvault.subject_keys k WHERE k.kid = p_kid
$$;

CREATE OR REPLACE FUNCTION keyvault.shred(p_user_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found boolean;
BEGIN
    INSERT INTO keyvault.shredded (subject_hash)
    VALUES (encode(sha256(convert_to(p_user_id::text, 'UTF8')), 'hex'))
    ON CONFLICT DO NOTHING;
    DELETE FROM keyvault.subject_keys WHERE user_id = p_user_id RETURNING true INTO found;
    RETURN coalesce(found, false);
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA keyvault FROM PUBLIC;
REVOKE ALL ON FUNCTION keyvault.subject_key(uuid, bytea), keyvault.key_of(uuid), keyvault.shred(uuid) FROM PUBLIC;

DO $$
DECLARE
    r text;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles
             WHERE rolname IN ('lx_skills', 'lx_requests', 'lx_matcher', 'lx_twitter') LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION keyvault.subject_key(uuid, bytea), keyvault.key_of(uuid) TO %I', r);
    END LOOP;
END
$$;
