-- Issue 13: the notice step of check_contacts() (sql/0011_ask_first.sql), cheaper and exact.
--
-- 1. Its probes run once per number, not five times. The CTE `asked` (a contact's newest notice,
--    or whether a rule is in force) is read by `stepped` in four expressions. PostgreSQL inlines a
--    CTE read once, so each of those expressions carried its own copy of the probes: EXPLAIN
--    ANALYZE of a 10,000-number batch showed the rules and notices probes looped 4-5 times per
--    number that needed them (about 14,000 extra index scans of `rules` and 11,000 of `notices`).
--    MATERIALIZED computes them once.
-- 2. An agency's notice budget holds under concurrency. Each check counted the agency's notices
--    of the day in its own snapshot, so checks running at once could each spend the last one
--    (an overshoot of up to one notice per concurrent check). Now a check that may cause a notice
--    takes the agency's notice lock before it counts, and holds it to its commit; only such a
--    check may cause one. Checks that cannot (every contact has a rule in force, or was noticed
--    in the last p_notice_min_days, or cannot be texted) take no lock, and neither do checks of
--    an agency whose budget is recorded as spent (3.). The lock holder counts the day once, and
--    the call's notices are budgeted from that count.
-- 3. A spent budget costs no count. Counting an agency's day walks up to its budget of index
--    entries (5,000 by default) and was paid by every check of a contact who might get a notice;
--    with the budget spent that was most of such an agency's checks. The lock holder that finds it
--    spent records until when (notice_budget_spent); until then checks answer notice_budget
--    without lock or count. A budget of 0 is spent from the start: no lock either.
-- Otherwise the function is unchanged (a migration must restate it whole).

-- An agency whose notice budget is spent, until when (with the budget that was spent). Written by the
-- check that found it spent, under the agency's notice lock; a staff change of the budget makes the
-- row stale (its budget differs) and the next check counts again.
CREATE TABLE notice_budget_spent (
    agency_id uuid PRIMARY KEY REFERENCES agencies (id),
    budget    int NOT NULL,
    until     timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION check_contacts(
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
#variable_conflict use_column
DECLARE
    v_key     uuid;
    v_agency  uuid;
    v_status  text;
    v_budget  int;
    v_now     timestamptz;
    v_rounds  int;
    v_answers check_answer[];
    v_noticed boolean;
    v_may_notice boolean;
    v_room    int;
BEGIN
    SELECT k.id, k.agency_id, a.status, coalesce(a.notice_daily_budget, p_notice_daily)
    INTO v_key, v_agency, v_status, v_budget
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
    -- Read after the lock: every permit and notice committed by a check that held it before us
    -- is older than this, so the counts below include it.
    v_now := coalesce(p_at, clock_timestamp());

    SELECT max(n) INTO v_rounds
    FROM (SELECT count(*) AS n FROM unnest(p_phone_keys) AS k GROUP BY k) AS repeats;

    -- Could any item cause a notice? (As `asked` below decides: a number we can text, with no rule
    -- in force and no notice in the last p_notice_min_days.) EXISTS stops at the first one. A number
    -- repeated in the call is asked again in a later round, after the permit of an earlier round may
    -- have used up a once-consent (sql/0042): such a call may cause a notice whatever its rules now.
    SELECT (v_rounds > 1 AND EXISTS (SELECT 1 FROM unnest(p_sealed_phones) AS s WHERE s IS NOT NULL))
        OR EXISTS (
        SELECT 1 FROM unnest(p_phone_keys, p_sealed_phones) AS u (pk, sealed)
        WHERE u.sealed IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM rules r
              WHERE r.phone_key = u.pk
                AND (r.withdrawn_at IS NULL OR r.withdrawn_at > v_now)
                AND (r.expires_at IS NULL OR r.expires_at > v_now))
          AND NOT EXISTS (
              SELECT 1 FROM notices n
              WHERE n.phone_key = u.pk
                AND n.created_at > v_now - make_interval(days => p_notice_min_days)
                AND n.created_at <= v_now)
    ) INTO v_may_notice;
    -- v_room: notices this call may still cause. Only a check holding its agency's notice lock may
    -- cause any; it counts the day's notices after taking it.
    v_room := 0;
    IF v_may_notice AND (v_budget IS NULL OR v_budget > 0) AND NOT EXISTS (
        -- Spent, and known until when (set below): no lock, no count of the day.
        SELECT 1 FROM notice_budget_spent s
        WHERE s.agency_id = v_agency AND s.budget = v_budget AND s.until > v_now
    ) THEN
        -- One notice lock per agency (namespace 72404; by a hash, so two agencies that share one
        -- only wait for each other). Taken after the contacts' locks and last: no deadlock.
        PERFORM pg_advisory_xact_lock(72404, hashtext(v_agency::text));
        -- After it: the notices of the check that held it before us are committed and older than
        -- this, so the count includes them.
        v_now := coalesce(p_at, clock_timestamp());
        SELECT v_budget - count(*) INTO v_room FROM notices n
        WHERE n.agency_id = v_agency AND n.created_at > v_now - interval '1 day' AND n.created_at <= v_now;
        IF v_room <= 0 AND v_budget > 0 THEN
            -- Spent until the oldest of the agency's newest v_budget notices leaves the 24 hours
            -- (none is added meanwhile: nobody may cause one). Checks until then need neither lock
            -- nor count.
            INSERT INTO notice_budget_spent (agency_id, budget, until)
            SELECT v_agency, v_budget, n.created_at + interval '1 day'
            FROM notices n
            WHERE n.agency_id = v_agency AND n.created_at > v_now - interval '1 day' AND n.created_at <= v_now
            ORDER BY n.created_at DESC OFFSET v_budget - 1 LIMIT 1
            ON CONFLICT (agency_id) DO UPDATE SET budget = EXCLUDED.budget, until = EXCLUDED.until;
        END IF;
    END IF;

    -- A number repeated in one call is answered once per round, in input order, each round a
    -- statement of its own that sees the permits and notices of the rounds before it.
    FOR v_round IN 1..v_rounds LOOP
        WITH items AS (
            SELECT x.ord::int AS ord, x.pk, x.bk, x.sealed
            FROM (
                SELECT u.pk, u.bk, u.sealed, u.ord,
                       row_number() OVER (PARTITION BY u.pk ORDER BY u.ord) AS occurrence
                FROM unnest(p_phone_keys, p_borrower_keys, p_sealed_phones) WITH ORDINALITY AS u (pk, bk, sealed, ord)
            ) AS x
            WHERE x.occurrence = v_round
        ),
        matched AS (
            SELECT i.ord, i.pk, i.bk, i.sealed, m.id AS rule_id, m.kind, m.expires_at
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
        -- The notice step applies to a contact we can text who has no rule in force at all
        -- (a matching rule is one; CASE runs the other probes only when still needed).
        -- last_notice: NULL = the step does not apply; -infinity = no notice in the last
        -- p_notice_min_days; otherwise the newest one.
        asked AS MATERIALIZED (
            SELECT m.*,
                   CASE WHEN m.rule_id IS NOT NULL OR m.sealed IS NULL THEN NULL
                        WHEN EXISTS (
                            SELECT 1 FROM rules r
                            WHERE r.phone_key = m.pk
                              AND (r.withdrawn_at IS NULL OR r.withdrawn_at > v_now)
                              AND (r.expires_at IS NULL OR r.expires_at > v_now)) THEN NULL
                        ELSE coalesce((
                            SELECT max(n.created_at) FROM notices n
                            WHERE n.phone_key = m.pk
                              AND n.created_at > v_now - make_interval(days => p_notice_min_days)
                              AND n.created_at <= v_now), '-infinity')
                   END AS last_notice
            FROM matched m
        ),
        -- ask: NULL (the v1 rule answers), 'pending' (an earlier notice's hold), 'budget' (a notice
        -- is due but the agency's budget for the last 24 h is spent), 'new_hold' (a notice now, and
        -- its hold), 'new_free' (a notice now, no hold: p_notice_hours = 0). Within the call, the
        -- budget goes to the items in input order; the count of the day runs once (an InitPlan),
        -- and only when some item needs a notice.
        stepped AS (
            SELECT a.*,
                   CASE WHEN a.last_notice IS NULL THEN NULL
                        WHEN a.last_notice > '-infinity' THEN
                            CASE WHEN v_now < a.last_notice + make_interval(hours => p_notice_hours) THEN 'pending' END
                        WHEN v_room <= 0 THEN 'budget'
                        WHEN count(*) FILTER (WHERE a.last_notice = '-infinity') OVER (ORDER BY a.ord)
                             > v_room THEN 'budget'
                        WHEN p_notice_hours > 0 THEN 'new_hold'
                        ELSE 'new_free'
                   END AS ask
            FROM asked a
        ),
        limited AS (
            SELECT s.*,
                   s.ask IN ('pending', 'budget', 'new_hold') AS held,
                   CASE WHEN s.kind = 'consent' THEN p_consent_permits ELSE p_no_record_permits END AS allowed,
                   CASE WHEN s.kind = 'consent' THEN p_consent_days ELSE p_no_record_days END AS window_days
            FROM stepped s
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
                   CASE WHEN c.held OR c.kind = 'refuse' THEN 'deny'
                        WHEN c.used >= c.allowed OR c.today >= p_daily_permits THEN 'deny'
                        ELSE 'allow' END AS decision,
                   CASE WHEN c.ask = 'budget' THEN 'notice_budget'
                        WHEN c.held THEN 'notice_pending'
                        WHEN c.kind = 'refuse' THEN 'refused'
                        WHEN c.used >= c.allowed OR c.today >= p_daily_permits THEN 'frequency_limit'
                        WHEN c.kind = 'consent' THEN 'consent'
                        ELSE 'no_record' END AS reason,
                   CASE WHEN c.held OR c.kind = 'refuse' OR c.used >= c.allowed OR c.today >= p_daily_permits THEN NULL
                        ELSE least(v_now + make_interval(hours => p_permit_hours), c.expires_at) END AS valid_until,
                   CASE WHEN c.held OR c.kind = 'refuse' THEN NULL
                        WHEN c.used >= c.allowed THEN c.allowed
                        WHEN c.today >= p_daily_permits THEN p_daily_permits
                        ELSE c.allowed END AS limit_permits,
                   CASE WHEN c.held OR c.kind = 'refuse' THEN NULL
                        WHEN c.used >= c.allowed THEN c.window_days
                        WHEN c.today >= p_daily_permits THEN 1
                        ELSE c.window_days END AS limit_days,
                   CASE WHEN c.held OR c.kind = 'refuse' THEN NULL
                        WHEN c.used >= c.allowed THEN c.used
                        WHEN c.today >= p_daily_permits THEN c.today
                        ELSE c.used + 1 END AS limit_used,
                   CASE WHEN c.ask = 'pending' THEN c.last_notice + make_interval(hours => p_notice_hours)
                        WHEN c.ask = 'new_hold' THEN v_now + make_interval(hours => p_notice_hours) END AS available_at,
                   CASE WHEN c.ask IN ('new_hold', 'new_free') THEN gen_random_uuid() END AS notice_id
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
        ),
        noticed AS (
            INSERT INTO notices (id, phone_key, agency_id, check_id, created_at)
            SELECT d.notice_id, d.pk, v_agency, d.check_id, v_now
            FROM decided d
            WHERE d.notice_id IS NOT NULL
        )
        SELECT array_agg(ROW(d.ord, d.check_id, d.decision, d.reason, d.rule_id, v_now, d.valid_until,
                             d.limit_permits, d.limit_days, d.limit_used, d.available_at, d.notice_id)::check_answer),
               coalesce(bool_or(d.notice_id IS NOT NULL), false)
        INTO v_answers, v_noticed
        FROM decided d;

        IF v_noticed THEN
            -- The next round's room: what this one left.
            v_room := v_room - (SELECT count(*) FROM unnest(v_answers) AS a WHERE a.notice_id IS NOT NULL);
            PERFORM queue_sms(array_agg(p_sealed_phones[a.ordinal] ORDER BY a.ordinal),
                              array_agg(jsonb_build_object('kind', 'notice', 'notice_id', a.notice_id) ORDER BY a.ordinal))
            FROM unnest(v_answers) AS a
            WHERE a.notice_id IS NOT NULL;
        END IF;
        RETURN QUERY SELECT * FROM unnest(v_answers);
    END LOOP;
END $$;
