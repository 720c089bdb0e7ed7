-- Issue 11: nothing she typed is lost. A complaint sent after her sign-in timed out is kept here
-- (its fields, and its file when it had one) until she signs in again, then shown back in the form.
-- Found by the hash of a random token in an HttpOnly cookie; bound to the number of the session that
-- timed out when there was one, so only she gets it back. Kept a day at most: every new draft deletes
-- the expired ones, and erasure deletes hers.
CREATE TABLE complaint_drafts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash  bytea NOT NULL UNIQUE,
    phone_key   bytea,
    form        jsonb NOT NULL,
    filename    text,
    file        bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL DEFAULT now() + interval '1 day'
);
CREATE INDEX complaint_drafts_phone ON complaint_drafts (phone_key);
CREATE INDEX complaint_drafts_expiry ON complaint_drafts (expires_at);
-- The service's role gets what it needs on new tables by 0005's default privileges; said again here
-- so the grant does not depend on who ran that migration.
GRANT SELECT, INSERT, UPDATE, DELETE ON complaint_drafts TO registry_app;
