-- Staff sign-in throttling: after a run of wrong passwords an account is locked for a while,
-- so a password cannot be guessed online at argon2 speed from many addresses.
ALTER TABLE admins
    ADD COLUMN failed_logins int NOT NULL DEFAULT 0,
    ADD COLUMN locked_until  timestamptz;
