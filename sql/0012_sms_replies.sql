-- SMS replies (POST /v1/sms/inbound), and receipts that say what a refusal withdrew.

-- One row per message the gateway posted: its id makes a repeated post answer the same and do
-- nothing twice. The text itself is not kept (people write anything into a reply); only what
-- the registry did about it. Pruned after 30 days (registry/jobs.py).
CREATE TABLE sms_inbound (
    phone_key   bytea NOT NULL,
    gateway_id  text NOT NULL CHECK (length(gateway_id) BETWEEN 1 AND 200),
    received_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- refused: a refusal of all agencies was recorded (or was already in force); help: the help
    -- reply was queued; quiet: another help reply today would be one too many.
    action      text NOT NULL CHECK (action IN ('refused', 'help', 'quiet')),
    receipt_id  uuid,
    -- phone_key first, so the table can be distributed by it (docs/scale.md).
    PRIMARY KEY (phone_key, gateway_id)
);
CREATE INDEX sms_inbound_help ON sms_inbound (phone_key, recorded_at) WHERE action = 'help';

-- The latest action wins: a refusal withdraws the consents it covers, and its receipt lists them.
-- `via` says where the change was made: a signed-in session, a notice's link, or an SMS reply.
ALTER TABLE contact_receipts
    ADD COLUMN withdrawn jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN via text NOT NULL DEFAULT 'session' CHECK (via IN ('session', 'link', 'sms'));
