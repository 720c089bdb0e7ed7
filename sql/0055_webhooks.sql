-- Webhooks (DESIGN.md "Contract v2"): each agency may register one URL and the events it wants;
-- each event for it becomes a delivery row and a pgqueuer job (entrypoint 'webhook'), both
-- committed in the transaction of the change, so an event is delivered if and only if the
-- change happened. The worker (registry/webhooks/delivery.py) posts it, signed the Standard
-- Webhooks way, and retries with backoff for 24 hours.
--
-- The signing secret must be usable later, so it cannot be a hash: it is stored sealed with
-- AES-GCM under a key derived from the session key (registry/webhooks/secrets.py), bound to
-- the agency, never in plain.
CREATE TABLE webhooks (
    agency_id     uuid PRIMARY KEY REFERENCES agencies (id),
    url           text NOT NULL CHECK (length(url) <= 2000),
    events        text[] NOT NULL
                  CHECK (cardinality(events) > 0
                         AND events <@ ARRAY['permit.revoked', 'dispute.filed', 'dispute.decided']),
    sealed_secret bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per event per agency; its id is the event id, sent as `webhook-id` so a receiver
-- can drop a repeat (delivery is at least once).
CREATE TABLE webhook_deliveries (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_id    uuid NOT NULL REFERENCES agencies (id),
    event        text NOT NULL,
    -- The event's `data` (the changes-feed item, or the dispute's ref and status): no phone number.
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
    attempts     int NOT NULL DEFAULT 0,
    last_error   text,
    next_try_at  timestamptz DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX webhook_deliveries_agency ON webhook_deliveries (agency_id, created_at DESC);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Queue one event for each agency in p_agency_ids that subscribed to p_event (p_data[i] is the
-- event's data for p_agency_ids[i]); the delivery rows and their jobs in one statement. Nothing is
-- inserted into pgqueuer when nobody subscribed: its NOTIFY trigger fires even for zero rows.
CREATE FUNCTION queue_webhook_events(p_agency_ids uuid[], p_event text, p_data jsonb[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    queued int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks WHERE agency_id = ANY (p_agency_ids) AND p_event = ANY (events)) THEN
        RETURN 0;
    END IF;
    WITH deliveries AS (
        INSERT INTO webhook_deliveries (agency_id, event, data)
        SELECT e.agency_id, p_event, e.data
        FROM unnest(p_agency_ids, p_data) AS e (agency_id, data)
        JOIN webhooks w ON w.agency_id = e.agency_id AND p_event = ANY (w.events)
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
