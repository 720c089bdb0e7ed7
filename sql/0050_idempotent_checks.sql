-- Idempotent checks (docs/contract.md, v2): POST /v1/checks with an Idempotency-Key that the same
-- API key used in the last 24 hours answers the first answer again, instead of a new decision (a
-- retried check must not spend the contact's one permit a month). The same key with another body
-- is refused, as for attempts.
--
-- Kept: the first answer's fields, which hold no number (the service signs the receipt again from
-- them and the request's number; Ed25519 signatures are deterministic, so it is the same receipt
-- byte for byte), and the SHA-256 of the request body, to tell a retry from a reuse. Rows older
-- than 24 hours are pruned by the hourly upkeep (registry/jobs.py); until then an old row is
-- simply overwritten by the key's next use.
CREATE TABLE check_replays (
    key_id          uuid NOT NULL REFERENCES api_keys (id),
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash    bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    answer          jsonb NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX check_replays_created ON check_replays (created_at);

-- check_contacts() for one number, once per (API key, Idempotency-Key) in 24 hours; the same
-- arguments after the two new ones. Still one round trip. A check without the header does not
-- come here, so the usual path pays nothing for this.
CREATE FUNCTION check_contacts_once(
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
    v_hash   bytea;
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
    -- Two requests with the same key at once: the second waits here until the first commits, then
    -- finds its row (each statement below takes a fresh snapshot) and replays it.
    PERFORM pg_advisory_xact_lock(72403, hashtext(v_key::text || ':' || p_idempotency_key));

    SELECT r.request_hash, r.answer INTO v_hash, v_answer
    FROM check_replays r
    WHERE r.key_id = v_key AND r.idempotency_key = p_idempotency_key
      AND r.created_at > coalesce(p_at, clock_timestamp()) - interval '24 hours';
    IF FOUND THEN
        IF v_hash <> p_request_hash THEN
            RAISE EXCEPTION 'Idempotency-Key reused with another body'
                USING ERRCODE = 'unique_violation', DETAIL = 'idempotency_key_reused';
        END IF;
        RETURN QUERY SELECT * FROM jsonb_populate_record(NULL::check_answer, v_answer);
        RETURN;
    END IF;

    SELECT * INTO v_row
    FROM check_contacts(p_key_hash, p_phone_keys, p_borrower_keys, p_sealed_phones, p_no_record_permits,
                        p_no_record_days, p_consent_permits, p_consent_days, p_daily_permits, p_permit_hours,
                        p_notice_hours, p_notice_min_days, p_notice_daily, p_at);
    INSERT INTO check_replays (key_id, idempotency_key, request_hash, created_at, answer)
    VALUES (v_key, p_idempotency_key, p_request_hash, v_row.checked_at, to_jsonb(v_row))
    ON CONFLICT (key_id, idempotency_key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at, answer = EXCLUDED.answer;
    RETURN NEXT v_row;
END $$;
