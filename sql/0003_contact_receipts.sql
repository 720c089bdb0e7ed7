-- Contacts: receipts of rule changes, and wrong code tries (for the try limits).

-- A receipt is what a contact was told when a rule changed: kept so the page can show
-- and print it again. It holds the rule and the rules in force as they were then
-- (agency names and masked borrower hints only, never a number). Erasure deletes them.
CREATE TABLE contact_receipts (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone_key bytea NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now(),
    action    text NOT NULL CHECK (action IN ('rule_added', 'rule_withdrawn')),
    rule_id   uuid NOT NULL,
    rule      jsonb NOT NULL,
    in_force  jsonb NOT NULL
);
CREATE INDEX contact_receipts_phone ON contact_receipts (phone_key, issued_at);

-- One row per wrong code, so tries are limited per number and per client address
-- across codes (a new code must not reset the count). client_key is an HMAC of the address.
CREATE TABLE contact_code_failures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone_key  bytea NOT NULL,
    client_key bytea,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_code_failures_phone ON contact_code_failures (phone_key, at);
CREATE INDEX contact_code_failures_client ON contact_code_failures (client_key, at);
