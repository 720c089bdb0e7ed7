-- The whole schema DESIGN.md needs. Per-contact tables are keyed by phone_key
-- (HMAC-SHA256 of the E.164 number), never by a plain number, so they can be
-- distributed by phone_key later; agencies and admins are small reference tables.

CREATE TABLE agencies (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    credit_code  text NOT NULL UNIQUE CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    suspended_at timestamptz
);

-- The key itself is shown once; only its SHA-256 is kept (keys are 256-bit random,
-- so a fast hash is enough, and lookup by hash needs no per-row salt).
CREATE TABLE api_keys (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_id  uuid NOT NULL REFERENCES agencies (id),
    prefix     text NOT NULL,
    key_hash   bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_agency ON api_keys (agency_id);

-- A rule is never updated in place except to stamp withdrawn_at.
CREATE TABLE rules (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone_key     bytea NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('refuse', 'consent')),
    agency_id     uuid REFERENCES agencies (id),
    borrower_key  bytea,
    borrower_hint text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    withdrawn_at  timestamptz,
    CHECK (kind = 'refuse' OR expires_at IS NOT NULL)
);
CREATE INDEX rules_phone ON rules (phone_key) INCLUDE (kind, agency_id, borrower_key, expires_at, withdrawn_at);

-- Every pre-dial query and its answer. Append-only, partitioned by month.
CREATE TABLE checks (
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    agency_id    uuid NOT NULL,
    key_id       uuid,
    phone_key    bytea NOT NULL,
    borrower_key bytea,
    decision     text NOT NULL CHECK (decision IN ('allow', 'deny')),
    reason       text NOT NULL CHECK (reason IN ('no_record', 'consent', 'refused', 'frequency_limit')),
    rule_id      uuid,
    checked_at   timestamptz NOT NULL DEFAULT now(),
    valid_until  timestamptz,
    PRIMARY KEY (id, checked_at)
) PARTITION BY RANGE (checked_at);
CREATE INDEX checks_phone ON checks (phone_key, checked_at);
CREATE INDEX checks_agency ON checks (agency_id, checked_at);
CREATE INDEX checks_id ON checks (id);
CREATE TABLE checks_default PARTITION OF checks DEFAULT;

-- Monthly partitions are made ahead of time by the service at start and by `migrate`.
CREATE FUNCTION ensure_check_partitions(months_ahead int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    name  text;
BEGIN
    FOR i IN 0..months_ahead LOOP
        name := format('checks_%s', to_char(month, 'YYYY_MM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF checks FOR VALUES FROM (%L) TO (%L)',
                name, month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
END $$;

-- An allow answer is a permit: one contact attempt until valid_until. Mutable
-- (revoked, used), so it lives beside the append-only checks log.
CREATE TABLE permits (
    check_id      uuid PRIMARY KEY,
    agency_id     uuid NOT NULL,
    phone_key     bytea NOT NULL,
    borrower_key  bytea,
    rule_id       uuid,
    issued_at     timestamptz NOT NULL,
    valid_until   timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text,
    used_at       timestamptz
);
CREATE INDEX permits_phone ON permits (phone_key, issued_at) INCLUDE (agency_id);
CREATE INDEX permits_open ON permits (phone_key, valid_until) WHERE revoked_at IS NULL;

-- The changes feed: one row per revoked permit, in the order revoked.
CREATE TABLE revocations (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_id   uuid NOT NULL REFERENCES permits (check_id),
    agency_id  uuid NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    reason     text NOT NULL
);
CREATE INDEX revocations_agency ON revocations (agency_id, seq);

-- A call, SMS or visit an agency reports. Append-only.
CREATE TABLE attempts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    check_id        uuid,
    phone_key       bytea NOT NULL,
    occurred_at     timestamptz NOT NULL,
    reported_at     timestamptz NOT NULL DEFAULT now(),
    channel         text NOT NULL CHECK (channel IN ('call', 'sms', 'visit')),
    outcome         text,
    compliant       boolean NOT NULL,
    violation       text CHECK (violation IN ('no_permit', 'permit_denied', 'permit_expired',
                                              'permit_revoked', 'permit_used')),
    idempotency_key text,
    request_hash    bytea,
    UNIQUE (agency_id, idempotency_key)
);
CREATE INDEX attempts_phone ON attempts (phone_key, occurred_at);
CREATE INDEX attempts_agency ON attempts (agency_id, reported_at);

-- One-time codes: only an HMAC of the code is kept. client_key is an HMAC of the
-- client address, for the per-address sending limit.
CREATE TABLE contact_codes (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone_key  bytea NOT NULL,
    client_key bytea,
    code_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    failures   int NOT NULL DEFAULT 0,
    used_at    timestamptz,
    voided_at  timestamptz
);
CREATE INDEX contact_codes_phone ON contact_codes (phone_key, created_at);
CREATE INDEX contact_codes_client ON contact_codes (client_key, created_at);

CREATE TABLE contact_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone_key  bytea NOT NULL,
    phone_hint text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz
);
CREATE INDEX contact_sessions_phone ON contact_sessions (phone_key);

-- The development SMS outbox: the one table with a plain number, standing in for
-- the gateway. Production refuses to use it.
CREATE TABLE sms_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone      text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admins (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{3,64}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'reviewer')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);

CREATE TABLE admin_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    admin_id   uuid NOT NULL REFERENCES admins (id),
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz
);

CREATE TABLE disputes (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ref                  text NOT NULL UNIQUE,
    phone_key            bytea NOT NULL,
    phone_hint           text NOT NULL,
    agency_id            uuid REFERENCES agencies (id),
    caller_name          text,
    caller_number_keys   bytea[] NOT NULL DEFAULT '{}',
    caller_number_hints  text[] NOT NULL DEFAULT '{}',
    categories           text[] NOT NULL,
    occurred_at          timestamptz NOT NULL,
    call_count           int CHECK (call_count >= 0),
    description          text NOT NULL,
    status               text NOT NULL CHECK (status IN ('open', 'awaiting_agency', 'under_review',
                                                         'upheld', 'dismissed', 'withdrawn')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    agency_due_at        timestamptz NOT NULL,
    decision_due_at      timestamptz NOT NULL,
    agency_responded_at  timestamptz,
    decided_at           timestamptz,
    outcome              text CHECK (outcome IN ('upheld', 'dismissed')),
    sanction             text CHECK (sanction IN ('none', 'warning', 'suspend')),
    decision_note        text,
    decided_by           uuid REFERENCES admins (id)
);
CREATE INDEX disputes_phone ON disputes (phone_key);
CREATE INDEX disputes_agency ON disputes (agency_id, status);
CREATE INDEX disputes_status ON disputes (status, created_at);

CREATE TABLE dispute_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispute_id         uuid NOT NULL REFERENCES disputes (id),
    at                 timestamptz NOT NULL DEFAULT now(),
    actor              text NOT NULL CHECK (actor IN ('contact', 'agency', 'reviewer', 'system')),
    actor_id           uuid,
    kind               text NOT NULL,
    text               text,
    visible_to_contact boolean NOT NULL DEFAULT true
);
CREATE INDEX dispute_events_dispute ON dispute_events (dispute_id, id);

CREATE TABLE dispute_attachments (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dispute_id   uuid NOT NULL REFERENCES disputes (id),
    filename     text NOT NULL,
    content_type text NOT NULL,
    size         int NOT NULL CHECK (size BETWEEN 1 AND 10485760),
    sha256       bytea NOT NULL,
    content      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dispute_attachments_dispute ON dispute_attachments (dispute_id);

-- Hash-chained: hash = sha256(prev_hash || the row's canonical text). See registry/audit.py.
CREATE TABLE audit_log (
    seq       bigint PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL,
    subject   text NOT NULL,
    details   jsonb NOT NULL DEFAULT '{}',
    prev_hash bytea NOT NULL,
    hash      bytea NOT NULL
);

-- Append-only: checks, attempts and the audit log reject UPDATE and DELETE unless
-- the retention job sets registry.retention = 'on' in its own transaction.
CREATE FUNCTION reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('registry.retention', true) = 'on' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER checks_append_only BEFORE UPDATE OR DELETE ON checks
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER attempts_append_only BEFORE UPDATE OR DELETE ON attempts
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER checks_no_truncate BEFORE TRUNCATE ON checks
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
CREATE TRIGGER attempts_no_truncate BEFORE TRUNCATE ON attempts
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();

-- The audit chain's hash, in one place so writing and verifying agree byte for byte.
CREATE FUNCTION audit_hash(prev bytea, seq bigint, at timestamptz, actor text, action text,
                           subject text, details jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(prev || convert_to(concat_ws('|', seq::text,
        to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        actor, action, subject, details::text), 'UTF8'))
$$;
