-- Least privilege. Migrations run as the owner of every object here; the service runs as
-- registry_app, a role that owns nothing. It may read and write the working tables, but
-- only INSERT and SELECT the append-only ones (checks and each of its partitions,
-- attempts, revocations, audit_log), so neither a bug nor an injected statement can
-- rewrite the record: it cannot disable triggers (it owns no table), cannot set
-- session_replication_role (superuser only), and a `SET registry.retention` buys it
-- nothing (it lacks DELETE). The two jobs that must change the record, making partitions
-- and retention, run through SECURITY DEFINER functions below.
--
-- The role's LOGIN and password are set by the migrate step in registry/database.py,
-- which knows the secret; here it is created without LOGIN. Roles belong to the whole
-- server, so another database on it may have made the role already.
DO $$
BEGIN
    CREATE ROLE registry_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO registry_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO registry_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO registry_app;
-- Tables and sequences of later migrations get the same, unless made append-only.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO registry_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO registry_app;
-- The service may see which migrations ran, never write the ledger.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM registry_app;

-- A later migration that adds an append-only table calls this on it.
CREATE FUNCTION make_append_only(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM registry_app', tbl);
END $$;

SELECT make_append_only(t)
FROM unnest(ARRAY['checks', 'attempts', 'revocations', 'audit_log']::regclass[]) AS t;
-- Partitions are tables of their own, reachable by name.
SELECT make_append_only(inhrelid::regclass) FROM pg_inherits WHERE inhparent = 'checks'::regclass;

-- Partitions ahead of time, made by the owner on the service's behalf (at start and from a
-- periodic job). Rows that landed in checks_default because their month had no partition
-- yet are moved into the new partition first, so attaching it never fails. p_now lets
-- tests run the clock forward.
DROP FUNCTION ensure_check_partitions(int);
CREATE FUNCTION ensure_check_partitions(months_ahead int, p_now timestamptz DEFAULT now()) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    month date;
    name  text;
    lo    timestamptz;
    hi    timestamptz;
    made  int := 0;
BEGIN
    -- One maker at a time: every worker calls this on its timer.
    PERFORM pg_advisory_xact_lock(7240211003);
    FOR month IN
        SELECT DISTINCT date_trunc('month', checked_at AT TIME ZONE 'UTC')::date FROM checks_default
        UNION
        SELECT (date_trunc('month', p_now AT TIME ZONE 'UTC') + make_interval(months => i))::date
        FROM generate_series(0, months_ahead) AS i
        ORDER BY 1
    LOOP
        name := format('checks_%s', to_char(month, 'YYYY_MM'));
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        lo := month::timestamp AT TIME ZONE 'UTC';
        hi := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I (LIKE checks INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
        -- The append-only trigger lets this one DELETE through, in this transaction only.
        PERFORM set_config('registry.retention', 'on', true);
        EXECUTE format(
            'WITH moved AS (DELETE FROM checks_default WHERE checked_at >= %L AND checked_at < %L RETURNING *) '
            'INSERT INTO %I SELECT * FROM moved', lo, hi, name);
        PERFORM set_config('registry.retention', 'off', true);
        EXECUTE format('ALTER TABLE checks ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
        PERFORM make_append_only(name::regclass);
        made := made + 1;
    END LOOP;
    RETURN made;
END $$;

-- Retention, the only way rows leave the record: short-lived secrets and throttling rows
-- after p_short_cutoff, call records after p_record_cutoff. Complaints and the audit log
-- are never deleted here (the chain must stay whole).
CREATE FUNCTION purge_expired(p_short_cutoff timestamptz, p_record_cutoff timestamptz)
RETURNS TABLE (what text, deleted bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('registry.retention', 'on', true);
    DELETE FROM contact_codes WHERE created_at < p_short_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'contact codes'; deleted := n; RETURN NEXT;
    DELETE FROM contact_code_failures WHERE at < p_short_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'failed code tries'; deleted := n; RETURN NEXT;
    DELETE FROM contact_sessions WHERE expires_at < p_short_cutoff OR ended_at < p_short_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'contact sessions'; deleted := n; RETURN NEXT;
    DELETE FROM admin_sessions WHERE expires_at < p_short_cutoff OR ended_at < p_short_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'staff sessions'; deleted := n; RETURN NEXT;
    -- The development outbox is the one table with plain numbers: keep it no longer than needed.
    DELETE FROM sms_outbox WHERE created_at < p_short_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'development SMS outbox'; deleted := n; RETURN NEXT;
    -- Revocations point at permits, so they go first.
    DELETE FROM revocations WHERE revoked_at < p_record_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'revocations'; deleted := n; RETURN NEXT;
    DELETE FROM permits WHERE issued_at < p_record_cutoff AND check_id NOT IN (SELECT check_id FROM revocations);
    GET DIAGNOSTICS n = ROW_COUNT; what := 'permits'; deleted := n; RETURN NEXT;
    DELETE FROM attempts WHERE reported_at < p_record_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'attempts'; deleted := n; RETURN NEXT;
    DELETE FROM checks WHERE checked_at < p_record_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT; what := 'checks'; deleted := n; RETURN NEXT;
    PERFORM set_config('registry.retention', 'off', true);
END $$;
REVOKE EXECUTE ON FUNCTION purge_expired(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired(timestamptz, timestamptz) TO registry_app;
REVOKE EXECUTE ON FUNCTION make_append_only(regclass) FROM PUBLIC;
