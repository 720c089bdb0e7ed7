-- Staff sign-in limits moved to the shared limit store (registry/ratelimit.py: rate_limits, or
-- Redis): tries are counted per username whether or not it names an account, per client
-- address and in all, so the per-account columns of 0004 are no longer read or written.
ALTER TABLE admins
    DROP COLUMN failed_logins,
    DROP COLUMN locked_until;
