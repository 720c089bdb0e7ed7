-- Idempotent batches: POST /v1/checks/batch with an Idempotency-Key that the same API key used in the
-- last 24 hours answers the first batch's answer again (same check ids, same batch id and time, so the
-- same receipt), instead of deciding every number again: a dialer that retries a batch after a timeout
-- must not spend its contacts' permits twice, nor be denied for frequency by its own first attempt.
--
-- A batch's first answer is kept in check_replays beside the single checks' (sql/0050), as
-- {batch_id, checked_at, answers: [check_answer, ...]}: like theirs it holds no number (the service
-- parses the same body again for those). One table means one namespace of keys per API key, so a key
-- sent with a check and then with a batch is a key reused with another body (409), as it should be.
--
-- The whole batch is one statement, so one transaction: it locks its contacts' buckets in one sorted
-- pass (lock_contacts, sql/0002). The batch without the header sends its numbers in chunks, each its
-- own transaction; chunks inside one transaction would hold the first chunk's buckets while taking the
-- next one's, and two such batches would deadlock on each other.
--
-- The lookup and the refusal of a reused key are written once here (first_answer), and the single
-- check's two functions are restated whole to use them too.

-- The first answer to (API key, Idempotency-Key) within 24 hours of p_now, or NULL; raises the reuse
-- refusal (unique_violation, DETAIL 'idempotency_key_reused': registry/checks/queries.py maps it to 409)
-- when that answer was to another body. Two requests with the same key at once: the second waits on
-- the lock until the first commits, then finds its row (each statement of a plpgsql function takes a
-- fresh snapshot). The lock lasts until the caller's transaction ends, past its remember_answer().
CREATE FUNCTION first_answer(p_key_id uuid, p_idempotency_key text, p_request_hash bytea, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_hash   bytea;
    v_answer jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(72403, hashtext(p_key_id::text || ':' || p_idempotency_key));
    SELECT r.request_hash, r.answer INTO v_hash, v_answer
    FROM check_replays r
    WHERE r.key_id = p_key_id AND r.idempotency_key = p_idempotency_key
      AND r.created_at > p_now - interval '24 hours';
    IF FOUND AND v_hash <> p_request_hash THEN
        RAISE EXCEPTION 'Idempotency-Key reused with another body'
            USING ERRCODE = 'unique_violation', DETAIL = 'idempotency_key_reused';
    END IF;
    RETURN v_answer;
END $$;

-- Keep an answer for its key's retries. A row older than 24 hours (not yet pruned by the hourly
-- upkeep) is the key's previous use, and is replaced.
CREATE FUNCTION remember_answer(
    p_key_id uuid, p_idempotency_key text, p_request_hash bytea, p_at timestamptz, p_answer jsonb
) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO check_replays (key_id, idempotency_key, request_hash, created_at, answer)
    VALUES (p_key_id, p_idempotency_key, p_request_hash, p_at, p_answer)
    ON CONFLICT (key_id, idempotency_key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at, answer = EXCLUDED.answer
$$;

-- What a batch answers: its id, its time and its answers in input order.
CREATE TYPE batch_answer AS (
    batch_id   uuid,
    checked_at timestamptz,
    answers    check_answer[]
);

-- A kept batch answer (as remember_batch() wrote it) read back.
CREATE FUNCTION replayed_batch(p_answer jsonb) RETURNS batch_answer
LANGUAGE sql STABLE AS $$
    SELECT (p_answer ->> 'batch_id')::uuid, (p_answer ->> 'checked_at')::timestamptz,
           ARRAY(SELECT r FROM jsonb_populate_recordset(NULL::check_answer, p_answer -> 'answers') AS r
                 ORDER BY r.ordinal)
$$;

-- Give a freshly decided batch its id and time, and keep it for the key's retries.
CREATE FUNCTION remember_batch(
    p_key_id uuid, p_idempotency_key text, p_request_hash bytea, p_at timestamptz, p_answers check_answer[]
) RETURNS batch_answer
LANGUAGE plpgsql AS $$
DECLARE
    v_batch batch_answer := ROW(gen_random_uuid(), p_at, coalesce(p_answers, '{}'))::batch_answer;
BEGIN
    PERFORM remember_answer(p_key_id, p_idempotency_key, p_request_hash, p_at, jsonb_build_object(
        'batch_id', v_batch.batch_id, 'checked_at', v_batch.checked_at, 'answers', to_jsonb(v_batch.answers)));
    RETURN v_batch;
END $$;

-- check_contacts() for a batch, once per (API key, Idempotency-Key) in 24 hours; the check_contacts()
-- arguments after the two new ones. One round trip, as for a single idempotent check. With no items
-- (every item was invalid) it still authenticates and keeps the empty answer, so a retry gets the same
-- batch id and receipt.
CREATE FUNCTION check_batch_once(
    p_idempotency_key   text,
    p_request_hash      bytea,
    p_key_hash          bytea,
    p_phone_keys        bytea[],
    p_borrower_keys     bytea[],
    p_sealed_phones     bytea[],
    p_no_record_permits int,
    p_no_record_days    int,
    p_consent_permits   int,
    p_consent_days      int,
    p_daily_permits     int,
    p_permit_hours      int,
    p_notice_hours      int,
    p_notice_min_days   int,
    p_notice_daily      int,
    p_at                timestamptz DEFAULT NULL
) RETURNS batch_answer
LANGUAGE plpgsql AS $$
DECLARE
    v_key     uuid;
    v_first   jsonb;
    v_answers check_answer[];
BEGIN
    -- 401/403 exactly as for any check: check_contacts() with no items only authenticates.
    PERFORM * FROM check_contacts(p_key_hash, '{}', '{}', '{}', p_no_record_permits, p_no_record_days,
                                  p_consent_permits, p_consent_days, p_daily_permits, p_permit_hours,
                                  p_notice_hours, p_notice_min_days, p_notice_daily, p_at);
    SELECT id INTO v_key FROM api_keys WHERE key_hash = p_key_hash;
    v_first := first_answer(v_key, p_idempotency_key, p_request_hash, coalesce(p_at, clock_timestamp()));
    IF v_first IS NOT NULL THEN
        RETURN replayed_batch(v_first);
    END IF;

    SELECT array_agg(a ORDER BY a.ordinal) INTO v_answers
    FROM check_contacts(p_key_hash, p_phone_keys, p_borrower_keys, p_sealed_phones, p_no_record_permits,
                        p_no_record_days, p_consent_permits, p_consent_days, p_daily_permits, p_permit_hours,
                        p_notice_hours, p_notice_min_days, p_notice_daily, p_at) AS a;
    RETURN remember_batch(v_key, p_idempotency_key, p_request_hash, coalesce(p_at, clock_timestamp()), v_answers);
END $$;

-- The sandbox's batch, once per (sandbox key, Idempotency-Key) in 24 hours: sandbox_check()'s arguments
-- after the two new ones.
CREATE FUNCTION sandbox_batch_once(
    p_idempotency_key   text,
    p_request_hash      bytea,
    p_key_hash          bytea,
    p_last_digits       int[],
    p_no_record_permits int,
    p_no_record_days    int,
    p_consent_permits   int,
    p_consent_days      int,
    p_permit_hours      int,
    p_notice_hours      int
) RETURNS batch_answer
LANGUAGE plpgsql AS $$
DECLARE
    v_key     uuid;
    v_first   jsonb;
    v_answers check_answer[];
BEGIN
    -- 401/403 as for a sandbox check: with no digits, sandbox_check() only authenticates.
    PERFORM * FROM sandbox_check(p_key_hash, '{}', p_no_record_permits, p_no_record_days, p_consent_permits,
                                 p_consent_days, p_permit_hours, p_notice_hours);
    SELECT id INTO v_key FROM api_keys WHERE key_hash = p_key_hash;
    v_first := first_answer(v_key, p_idempotency_key, p_request_hash, clock_timestamp());
    IF v_first IS NOT NULL THEN
        RETURN replayed_batch(v_first);
    END IF;

    SELECT array_agg(a ORDER BY a.ordinal) INTO v_answers
    FROM sandbox_check(p_key_hash, p_last_digits, p_no_record_permits, p_no_record_days, p_consent_permits,
                       p_consent_days, p_permit_hours, p_notice_hours) AS a;
    RETURN remember_batch(v_key, p_idempotency_key, p_request_hash, clock_timestamp(), v_answers);
END $$;

-- As in sql/0050_idempotent_checks.sql, with the lookup, the refusal and the keeping done by
-- first_answer() and remember_answer() above.
CREATE OR REPLACE FUNCTION check_contacts_once(
    p_idempotency_key   text,
    p_request_hash      bytea,
    p_key_hash          bytea,
    p_phone_keys        bytea[],
    p_borrower_keys     bytea[],
    p_sealed_phones     bytea[],
    p_no_record_permits int,
    p_no_record_days    int,
    p_consent_permits   int,
    p_consent_days      int,
    p_daily_permits     int,
    p_permit_hours      int,
    p_notice_hours      int,
    p_notice_min_days   int,
    p_notice_daily      int,
    p_at                timestamptz DEFAULT NULL
) RETURNS SETOF check_answer
LANGUAGE plpgsql AS $$
DECLARE
    v_key    uuid;
    v_answer jsonb;
    v_row    check_answer;
BEGIN
    IF coalesce(cardinality(p_phone_keys), 0) <> 1 THEN
        RAISE EXCEPTION 'an idempotent check is of one number' USING ERRCODE = '22023';
    END IF;
    -- 401/403 exactly as for any check: check_contacts() with no items only authenticates.
    PERFORM * FROM check_contacts(p_key_hash, '{}', '{}', '{}', p_no_record_permits, p_no_record_days,
                                  p_consent_permits, p_consent_days, p_daily_permits, p_permit_hours,
                                  p_notice_hours, p_notice_min_days, p_notice_daily, p_at);
    SELECT id INTO v_key FROM api_keys WHERE key_hash = p_key_hash;
    v_answer := first_answer(v_key, p_idempotency_key, p_request_hash, coalesce(p_at, clock_timestamp()));
    IF v_answer IS NOT NULL THEN
        RETURN QUERY SELECT * FROM jsonb_populate_record(NULL::check_answer, v_answer);
        RETURN;
    END IF;

    SELECT * INTO v_row
    FROM check_contacts(p_key_hash, p_phone_keys, p_borrower_keys, p_sealed_phones, p_no_record_permits,
                        p_no_record_days, p_consent_permits, p_consent_days, p_daily_permits, p_permit_hours,
                        p_notice_hours, p_notice_min_days, p_notice_daily, p_at);
    PERFORM remember_answer(v_key, p_idempotency_key, p_request_hash, v_row.checked_at, to_jsonb(v_row));
    RETURN NEXT v_row;
END $$;

-- As in sql/0051_sandbox.sql, with the lookup, the refusal and the keeping done by first_answer() and
-- remember_answer() above.
CREATE OR REPLACE FUNCTION sandbox_check(
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
        v_answer := first_answer(v_key, p_idempotency_key, p_request_hash, v_now);
        IF v_answer IS NOT NULL THEN
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
        PERFORM remember_answer(v_key, p_idempotency_key, p_request_hash, v_now, to_jsonb(v_answers[1]));
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_answers);
END $$;
