-- Counters of the request limits, shared by every worker and host (the `limits` library's
-- fixed windows, stored here unless REGISTRY_REDIS_URL points at Redis). UNLOGGED: a
-- crash may forget the current minute's counts, which costs nothing worth a WAL write per
-- request. Expired rows are deleted by the hourly upkeep.
CREATE UNLOGGED TABLE rate_limits (
    key        text PRIMARY KEY,
    count      bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
