-- Who (an organiser or admin) looked at or changed whose data, written by the service that served it.
-- Append-only: the service role owns this table, so a REVOKE would not bind it; the trigger refuses every
-- UPDATE, DELETE and TRUNCATE instead. The one exception is erasure, which replaces an erased person's id
-- (as actor or subject) with nobody's, inside a transaction that sets `lx.audit_forget` and may change
-- nothing else (lx_platform.audit.forget).
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    -- NULL once the actor has been erased.
    actor_id   uuid,
    action     text NOT NULL CHECK (length(action) BETWEEN 1 AND 80),
    -- Whose data: the people returned or changed. An erased person becomes the nil uuid.
    subjects   uuid[] NOT NULL DEFAULT '{}',
    -- The route template (`GET /api/v1/supporters`), never the concrete path, which may hold a person's id.
    route      text NOT NULL,
    -- What was acted on, when it is not a person: a request or offer id.
    resource   text,
    request_id text
);
-- A person's own access log, newest first.
CREATE INDEX audit_log_actor ON audit_log (actor_id, at DESC, id DESC);
-- Erasure finds a person among the subjects.
CREATE INDEX audit_log_subjects ON audit_log USING gin (subjects);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('lx.audit_forget', true) = 'on' THEN
        IF NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.action = OLD.action AND NEW.route = OLD.route
           AND NEW.resource IS NOT DISTINCT FROM OLD.resource AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
           AND (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
           AND cardinality(NEW.subjects) = cardinality(OLD.subjects) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
