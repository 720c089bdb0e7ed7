-- Sandbox webhooks (DESIGN.md "Contract v2": a sandbox key's checks, attempts, feed and webhooks
-- are kept apart). An agency has up to two webhooks: its real one, and the one its sandbox
-- (rk_test_) keys register. Real events go only to real webhooks; the sandbox makes no real
-- events, so a sandbox key asks for sample ones (POST /v1/webhook/test), which go only to the
-- sandbox webhook. Deliveries are marked too, so each key lists only its own.
ALTER TABLE webhooks ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE webhooks DROP CONSTRAINT webhooks_pkey, ADD PRIMARY KEY (agency_id, sandbox);
ALTER TABLE webhook_deliveries ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
DROP INDEX webhook_deliveries_agency;
CREATE INDEX webhook_deliveries_agency ON webhook_deliveries (agency_id, sandbox, created_at DESC);

-- As in sql/0055_webhooks.sql, for the webhooks of one side (p_sandbox) only.
DROP FUNCTION queue_webhook_events(uuid[], text, jsonb[]);
CREATE FUNCTION queue_webhook_events(p_agency_ids uuid[], p_event text, p_data jsonb[], p_sandbox boolean)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    queued int;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM webhooks
        WHERE agency_id = ANY (p_agency_ids) AND sandbox = p_sandbox AND p_event = ANY (events)
    ) THEN
        RETURN 0;
    END IF;
    WITH deliveries AS (
        INSERT INTO webhook_deliveries (agency_id, sandbox, event, data)
        SELECT e.agency_id, p_sandbox, p_event, e.data
        FROM unnest(p_agency_ids, p_data) AS e (agency_id, data)
        JOIN webhooks w ON w.agency_id = e.agency_id AND w.sandbox = p_sandbox AND p_event = ANY (w.events)
        RETURNING id
    ), jobs AS (
        INSERT INTO pgqueuer (priority, entrypoint, payload, headers, execute_after, status)
        SELECT 0, 'webhook', NULL, jsonb_build_object('delivery_id', id), now(), 'queued' FROM deliveries
        RETURNING id, entrypoint, priority
    ), logged AS (
        INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
        SELECT id, 'queued', entrypoint, priority FROM jobs
    )
    SELECT count(*)::int INTO queued FROM jobs;
    RETURN queued;
END $$;
