-- Issue 13: one index per contact lookup in `rules`, not two.
--
-- A check reads a contact's rules twice: the rule that answers (id, kind, scope, end dates) and
-- whether any rule is in force (the notice step). The first went through the primary key
-- (phone_key, id) and then the table; the second through rules_phone (phone_key) INCLUDE (...).
-- The primary key now carries those columns itself, so both reads are index-only scans of one
-- index, and rules_phone goes.
--
-- Measured at 10,000,000 contacts (8,000,000 rules, both after VACUUM, bare check statement on
-- batches of 10,000): 58-63 us of PostgreSQL CPU per number against 67-69 us, and the indexes on
-- `rules` 1,103 MB instead of 1,553 MB (about 45 bytes less per rule), so more of them stay in
-- memory. The key is still (phone_key, id): distribution by phone key is unchanged (docs/scale.md).
ALTER TABLE rules DROP CONSTRAINT rules_pkey,
    ADD PRIMARY KEY (phone_key, id) INCLUDE (kind, agency_id, borrower_key, expires_at, withdrawn_at);
DROP INDEX rules_phone;

-- The once-consent trigger (sql/0042) runs for every permit issued under a consent and looked its
-- rule up by id in an index of every rule (one random read of a large index per such permit) only
-- to find, nearly always, that the consent is not a once-consent. The open once-consents have an
-- index of their own, as small as their number.
CREATE INDEX rules_once_open ON rules (phone_key, id) WHERE once AND withdrawn_at IS NULL;
