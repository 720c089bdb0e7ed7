-- Every per-contact table's primary key leads with phone_key (docs/scale.md).
--
-- A table distributed by phone key (Citus) must carry the distribution column in its primary
-- key and in every unique constraint, and a foreign key between two such tables must include
-- it too. Lookups by id alone keep a plain index; the only unique keys left without phone_key
-- are the lookup keys docs/scale.md lists (a session token, a dispute reference, an agency's
-- idempotency keys), which need their own small tables when the schema is distributed.

-- rules, contact_codes, contact_code_failures, contact_receipts, contact_sessions, attempts:
-- (phone_key, id) instead of (id).
ALTER TABLE rules DROP CONSTRAINT rules_pkey, ADD PRIMARY KEY (phone_key, id);
CREATE INDEX rules_id ON rules (id);
ALTER TABLE contact_codes DROP CONSTRAINT contact_codes_pkey, ADD PRIMARY KEY (phone_key, id);
CREATE INDEX contact_codes_id ON contact_codes (id);
ALTER TABLE contact_code_failures DROP CONSTRAINT contact_code_failures_pkey, ADD PRIMARY KEY (phone_key, id);
ALTER TABLE contact_receipts DROP CONSTRAINT contact_receipts_pkey, ADD PRIMARY KEY (phone_key, id);
ALTER TABLE contact_sessions DROP CONSTRAINT contact_sessions_pkey, ADD PRIMARY KEY (phone_key, id);
ALTER TABLE attempts DROP CONSTRAINT attempts_pkey, ADD PRIMARY KEY (phone_key, id);
CREATE INDEX attempts_id ON attempts (id);

-- checks: (phone_key, checked_at, id). It is also the index a check's limit counts read, so
-- checks_phone (phone_key, checked_at) goes: one index fewer to write per check, not one more.
ALTER TABLE checks DROP CONSTRAINT checks_pkey;
ALTER TABLE checks ADD PRIMARY KEY (phone_key, checked_at, id);
DROP INDEX checks_phone;

-- permits and the changes feed that references them: revocations gain the phone key, so the
-- reference (phone_key, check_id) stays within one contact.
ALTER TABLE revocations DROP CONSTRAINT revocations_check_id_fkey;
ALTER TABLE revocations ADD COLUMN phone_key bytea;
UPDATE revocations r SET phone_key = p.phone_key FROM permits p WHERE p.check_id = r.check_id;
ALTER TABLE revocations ALTER COLUMN phone_key SET NOT NULL;
ALTER TABLE permits DROP CONSTRAINT permits_pkey, ADD PRIMARY KEY (phone_key, check_id);
CREATE INDEX permits_check ON permits (check_id);
ALTER TABLE revocations ADD FOREIGN KEY (phone_key, check_id) REFERENCES permits (phone_key, check_id);
-- The feed reads by (agency_id, seq) (revocations_agency); seq stays its cursor.
ALTER TABLE revocations DROP CONSTRAINT revocations_pkey, ADD PRIMARY KEY (phone_key, seq);

-- disputes and their events and attachments, likewise.
ALTER TABLE dispute_events DROP CONSTRAINT dispute_events_dispute_id_fkey;
ALTER TABLE dispute_attachments DROP CONSTRAINT dispute_attachments_dispute_id_fkey;
ALTER TABLE dispute_events ADD COLUMN phone_key bytea;
ALTER TABLE dispute_attachments ADD COLUMN phone_key bytea;
UPDATE dispute_events e SET phone_key = d.phone_key FROM disputes d WHERE d.id = e.dispute_id;
UPDATE dispute_attachments a SET phone_key = d.phone_key FROM disputes d WHERE d.id = a.dispute_id;
ALTER TABLE dispute_events ALTER COLUMN phone_key SET NOT NULL;
ALTER TABLE dispute_attachments ALTER COLUMN phone_key SET NOT NULL;
ALTER TABLE disputes DROP CONSTRAINT disputes_pkey, ADD PRIMARY KEY (phone_key, id);
CREATE INDEX disputes_id ON disputes (id);
ALTER TABLE dispute_events ADD FOREIGN KEY (phone_key, dispute_id) REFERENCES disputes (phone_key, id);
ALTER TABLE dispute_attachments ADD FOREIGN KEY (phone_key, dispute_id) REFERENCES disputes (phone_key, id);
ALTER TABLE dispute_events DROP CONSTRAINT dispute_events_pkey, ADD PRIMARY KEY (phone_key, id);
ALTER TABLE dispute_attachments DROP CONSTRAINT dispute_attachments_pkey, ADD PRIMARY KEY (phone_key, id);
