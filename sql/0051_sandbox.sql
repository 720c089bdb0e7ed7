-- Sandbox keys (docs/contract.md, v2): `registry key create --sandbox` makes an `rk_test_...` key
-- with which an agency tries its integration. A sandbox key never touches a real contact: its
-- checks are answered by the number's last digit alone (1 refused, 2 consent, 3 notice_pending,
-- 4 frequency_limit, any other allow/no_record), no rule, permit, notice or SMS is read or made,
-- and its checks and attempts go to tables of their own.
--
-- Why tables of their own rather than a flag on `checks` and `attempts`: everything that reads
-- those (the decision's counts, a contact's "who looked me up", staff figures, complaint evidence,
-- retention, distribution by phone key) would have to remember the flag, and one that forgot would
-- let test traffic spend a real contact's permits or show up as real. Apart, it cannot. The
-- sandbox rows hold no phone key at all (only the last digit that decided the answer), so no row
-- about a real contact is made even when a developer tries a real number.

-- The key's kind is its prefix, so the service routes a key before any lookup; the constraint keeps
-- the two in step (a real key is never issued with that prefix, see registry/agencies/queries.py).
ALTER TABLE api_keys ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_sandbox_prefix CHECK (sandbox = (prefix LIKE 'rk\_test\_%'));

-- Not append-only: a sandbox permit is stamped used like a real one, and nothing here is a record.
CREATE TABLE sandbox_checks (
    id          uuid PRIMARY KEY,
    agency_id   uuid NOT NULL REFERENCES agencies (id),
    key_id      uuid NOT NULL REFERENCES api_keys (id),
    last_digit  smallint NOT NULL CHECK (last_digit BETWEEN 0 AND 9),
    decision    text NOT NULL,
    reason      text NOT NULL,
    checked_at  timestamptz NOT NULL,
    valid_until timestamptz,
    used_at     timestamptz
);
CREATE INDEX sandbox_checks_agency ON sandbox_checks (agency_id, checked_at);

CREATE TABLE sandbox_attempts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    check_id        uuid REFERENCES sandbox_checks (id),
    occurred_at     timestamptz NOT NULL,
    reported_at     timestamptz NOT NULL DEFAULT now(),
    channel         text NOT NULL CHECK (channel IN ('call', 'sms', 'visit')),
    outcome         text,
    compliant       boolean NOT NULL,
    violation       text,
    idempotency_key text,
    request_hash    bytea,
    UNIQUE (agency_id, idempotency_key)
);

-- The sandbox's check_contacts(): the same answer shape, decided by p_last_digits[i] alone. The
-- figures (permits, windows, hours) are the real settings, so answers look like real ones. With
-- p_idempotency_key (one number), a repeat within 24 hours replays the first answer, as for a real key.
CREATE FUNCTION sandbox_check(
    p_key_hash          bytea,
    p_last_digits       int[],
    p_no_record_permits int,
    p_no_record_days    int,
    p_consent_permits   int,
    p_consent_days      int,
    p_permit_hours      int,
    p_notice_hours      int,
    p_idempotency_key   text DEFAULT NULL,
    p_request_hash      bytea DEFAULT NULL
) RETURNS SETOF check_answer
LANGUAGE plpgsql AS $$
DECLARE
    v_key    uuid;
    v_agency uuid;
    v_status text;
    v_now    timestamptz := clock_timestamp();
    v_hash   bytea;
    v_answer jsonb;
    v_answers check_answer[];
BEGIN
    SELECT k.id, k.agency_id, a.status INTO v_key, v_agency, v_status
    FROM api_keys k JOIN agencies a ON a.id = k.agency_id
    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND k.sandbox;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown or revoked API key' USING ERRCODE = '28000', DETAIL = 'unknown_key';
    END IF;
    IF v_status <> 'active' THEN
        RAISE EXCEPTION 'agency suspended' USING ERRCODE = '28000', DETAIL = 'suspended';
    END IF;
    IF coalesce(cardinality(p_last_digits), 0) = 0 THEN
        RETURN;
    END IF;
    IF p_idempotency_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(72403, hashtext(v_key::text || ':' || p_idempotency_key));
        SELECT r.request_hash, r.answer INTO v_hash, v_answer
        FROM check_replays r
        WHERE r.key_id = v_key AND r.idempotency_key = p_idempotency_key
          AND r.created_at > v_now - interval '24 hours';
        IF FOUND THEN
            IF v_hash <> p_request_hash THEN
                RAISE EXCEPTION 'Idempotency-Key reused with another body'
                    USING ERRCODE = 'unique_violation', DETAIL = 'idempotency_key_reused';
            END IF;
            RETURN QUERY SELECT * FROM jsonb_populate_record(NULL::check_answer, v_answer);
            RETURN;
        END IF;
    END IF;

    WITH items AS (
        SELECT d.ord::int AS ord, d.digit, gen_random_uuid() AS check_id,
               v_now + make_interval(hours => p_permit_hours) AS until
        FROM unnest(p_last_digits) WITH ORDINALITY AS d (digit, ord)
    ),
    answered AS (
        SELECT i.ord, i.digit, i.check_id,
               CASE WHEN i.digit IN (1, 3, 4) THEN 'deny' ELSE 'allow' END AS decision,
               CASE i.digit WHEN 1 THEN 'refused' WHEN 2 THEN 'consent' WHEN 3 THEN 'notice_pending'
                            WHEN 4 THEN 'frequency_limit' ELSE 'no_record' END AS reason,
               CASE WHEN i.digit IN (1, 3, 4) THEN NULL ELSE i.until END AS valid_until,
               CASE i.digit WHEN 1 THEN NULL WHEN 3 THEN NULL WHEN 2 THEN p_consent_permits
                            ELSE p_no_record_permits END AS limit_permits,
               CASE i.digit WHEN 1 THEN NULL WHEN 3 THEN NULL WHEN 2 THEN p_consent_days
                            ELSE p_no_record_days END AS limit_days,
               CASE i.digit WHEN 1 THEN NULL WHEN 3 THEN NULL WHEN 4 THEN p_no_record_permits ELSE 1 END AS limit_used,
               CASE WHEN i.digit = 3 THEN v_now + make_interval(hours => greatest(p_notice_hours, 1)) END AS available_at
        FROM items i
    ),
    logged AS (
        INSERT INTO sandbox_checks (id, agency_id, key_id, last_digit, decision, reason, checked_at, valid_until)
        SELECT a.check_id, v_agency, v_key, a.digit, a.decision, a.reason, v_now, a.valid_until
        FROM answered a
    )
    SELECT array_agg(ROW(a.ord, a.check_id, a.decision, a.reason, NULL::uuid, v_now, a.valid_until,
                         a.limit_permits, a.limit_days, a.limit_used, a.available_at, NULL::uuid)::check_answer
                     ORDER BY a.ord)
    INTO v_answers
    FROM answered a;

    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO check_replays (key_id, idempotency_key, request_hash, created_at, answer)
        VALUES (v_key, p_idempotency_key, p_request_hash, v_now, to_jsonb(v_answers[1]))
        ON CONFLICT (key_id, idempotency_key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at, answer = EXCLUDED.answer;
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_answers);
END $$;
