-- The pre-dial check as one statement: authentication, rule lookup, limit counting,
-- the checks log and the permits, for 1 to 10,000 numbers in one round trip.
-- registry/policy.py is the reference text of the decision; tests/checks run both
-- on the same random cases and require the same answers.

-- Checks and revocations of one contact are serialized by a transaction-scoped
-- advisory lock (two-key form, namespace 72402) on a bucket of its phone key. Buckets
-- bound the number of locks a 10,000-number batch holds (at most 1024), so a batch
-- never exhausts the shared lock table.
CREATE FUNCTION contact_bucket(phone_key bytea) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((get_byte(phone_key, 0) << 8) | get_byte(phone_key, 1)) & 1023
$$;

CREATE FUNCTION lock_contacts(phone_keys bytea[]) RETURNS void
LANGUAGE sql AS $$
    -- Sorted, so two batches always take their buckets in the same order (no deadlock).
    SELECT count(pg_advisory_xact_lock(72402, bucket))::int * 0
    FROM (SELECT DISTINCT contact_bucket(k) AS bucket FROM unnest(phone_keys) AS k ORDER BY 1) AS buckets
$$;

-- Answers checks for the agency whose key hashes to p_key_hash. Items are the pairs
-- (p_phone_keys[i], p_borrower_keys[i]); the result has one row per item with its
-- 1-based ordinal. A number repeated in one batch is answered in input order, each
-- answer seeing the permits issued before it. p_at fixes the time (tests only).
-- Unknown or revoked key, or a suspended agency: SQLSTATE 28000 (invalid authorization)
-- with DETAIL 'unknown_key' or 'suspended'.
CREATE FUNCTION check_contacts(
    p_key_hash          bytea,
    p_phone_keys        bytea[],
    p_borrower_keys     bytea[],
    p_no_record_permits int,
    p_no_record_days    int,
    p_consent_permits   int,
    p_consent_days      int,
    p_daily_permits     int,
    p_permit_hours      int,
    p_at                timestamptz DEFAULT NULL
) RETURNS TABLE (
    ordinal      int,
    check_id     uuid,
    decision     text,
    reason       text,
    rule_id      uuid,
    checked_at   timestamptz,
    valid_until  timestamptz,
    limit_permits int,
    limit_days   int,
    limit_used   int
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_key    uuid;
    v_agency uuid;
    v_status text;
    v_now    timestamptz;
    v_rounds int;
BEGIN
    SELECT k.id, k.agency_id, a.status INTO v_key, v_agency, v_status
    FROM api_keys k JOIN agencies a ON a.id = k.agency_id
    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown or revoked API key' USING ERRCODE = '28000', DETAIL = 'unknown_key';
    END IF;
    IF v_status <> 'active' THEN
        RAISE EXCEPTION 'agency suspended' USING ERRCODE = '28000', DETAIL = 'suspended';
    END IF;
    IF coalesce(cardinality(p_phone_keys), 0) = 0 THEN
        RETURN;
    END IF;

    PERFORM lock_contacts(p_phone_keys);
    -- The clock is read after the lock: every permit committed by a check that held the
    -- lock before us was issued earlier than this, so the counts below include it.
    v_now := coalesce(p_at, clock_timestamp());

    SELECT max(n) INTO v_rounds
    FROM (SELECT count(*) AS n FROM unnest(p_phone_keys) AS k GROUP BY k) AS repeats;

    FOR v_round IN 1..v_rounds LOOP
        RETURN QUERY
        WITH items AS (
            SELECT x.ord::int AS ord, x.pk, x.bk
            FROM (
                SELECT u.pk, u.bk, u.ord, row_number() OVER (PARTITION BY u.pk ORDER BY u.ord) AS occurrence
                FROM unnest(p_phone_keys, p_borrower_keys) WITH ORDINALITY AS u (pk, bk, ord)
            ) AS x
            WHERE x.occurrence = v_round
        ),
        matched AS (
            SELECT i.ord, i.pk, i.bk, m.id AS rule_id, m.kind, m.expires_at
            FROM items i
            LEFT JOIN LATERAL (
                SELECT r.id, r.kind, r.expires_at
                FROM rules r
                WHERE r.phone_key = i.pk
                  AND (r.withdrawn_at IS NULL OR r.withdrawn_at > v_now)
                  AND (r.expires_at IS NULL OR r.expires_at > v_now)
                  AND (r.agency_id IS NULL OR r.agency_id = v_agency)
                  AND (r.borrower_key IS NULL OR r.borrower_key = i.bk)
                ORDER BY (r.agency_id IS NOT NULL)::int + (r.borrower_key IS NOT NULL)::int DESC,
                         (r.kind = 'refuse') DESC, r.id
                LIMIT 1
            ) AS m ON true
        ),
        limited AS (
            SELECT m.*,
                   CASE WHEN m.kind = 'consent' THEN p_consent_permits ELSE p_no_record_permits END AS allowed,
                   CASE WHEN m.kind = 'consent' THEN p_consent_days ELSE p_no_record_days END AS window_days
            FROM matched m
        ),
        counted AS (
            SELECT l.*, c.used, c.today
            FROM limited l
            CROSS JOIN LATERAL (
                SELECT count(*) FILTER (WHERE p.agency_id = v_agency
                                          AND p.issued_at > v_now - make_interval(days => l.window_days))::int AS used,
                       count(*) FILTER (WHERE p.issued_at > v_now - interval '1 day')::int AS today
                FROM permits p
                WHERE p.phone_key = l.pk
                  AND p.issued_at > v_now - make_interval(days => greatest(l.window_days, 1))
                  AND p.issued_at <= v_now
            ) AS c
        ),
        decided AS MATERIALIZED (
            SELECT c.ord, c.pk, c.bk, c.rule_id, gen_random_uuid() AS check_id,
                   CASE WHEN c.kind = 'refuse' THEN 'deny'
                        WHEN c.used >= c.allowed OR c.today >= p_daily_permits THEN 'deny'
                        ELSE 'allow' END AS decision,
                   CASE WHEN c.kind = 'refuse' THEN 'refused'
                        WHEN c.used >= c.allowed OR c.today >= p_daily_permits THEN 'frequency_limit'
                        WHEN c.kind = 'consent' THEN 'consent'
                        ELSE 'no_record' END AS reason,
                   CASE WHEN c.kind = 'refuse' OR c.used >= c.allowed OR c.today >= p_daily_permits THEN NULL
                        ELSE least(v_now + make_interval(hours => p_permit_hours), c.expires_at) END AS valid_until,
                   CASE WHEN c.kind = 'refuse' THEN NULL
                        WHEN c.used >= c.allowed THEN c.allowed
                        WHEN c.today >= p_daily_permits THEN p_daily_permits
                        ELSE c.allowed END AS limit_permits,
                   CASE WHEN c.kind = 'refuse' THEN NULL
                        WHEN c.used >= c.allowed THEN c.window_days
                        WHEN c.today >= p_daily_permits THEN 1
                        ELSE c.window_days END AS limit_days,
                   CASE WHEN c.kind = 'refuse' THEN NULL
                        WHEN c.used >= c.allowed THEN c.used
                        WHEN c.today >= p_daily_permits THEN c.today
                        ELSE c.used + 1 END AS limit_used
            FROM counted c
        ),
        logged AS (
            INSERT INTO checks (id, agency_id, key_id, phone_key, borrower_key, decision, reason, rule_id,
                                checked_at, valid_until)
            SELECT d.check_id, v_agency, v_key, d.pk, d.bk, d.decision, d.reason, d.rule_id, v_now, d.valid_until
            FROM decided d
        ),
        issued AS (
            INSERT INTO permits (check_id, agency_id, phone_key, borrower_key, rule_id, issued_at, valid_until)
            SELECT d.check_id, v_agency, d.pk, d.bk, d.rule_id, v_now, d.valid_until
            FROM decided d
            WHERE d.decision = 'allow'
        )
        SELECT d.ord, d.check_id, d.decision, d.reason, d.rule_id, v_now, d.valid_until,
               d.limit_permits, d.limit_days, d.limit_used
        FROM decided d;
    END LOOP;
END $$;
