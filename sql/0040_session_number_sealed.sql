-- Issue 11: the receipt of a refusal made on the pages or the API is also sent by SMS, with its
-- short reference. A session knew only the phone key and a masked hint, so the number it was
-- opened for is kept with it, sealed (AES-GCM under a key derived from the session key, as the
-- SMS jobs seal theirs: registry/sms.py), never in plain. It goes with the session: erasure and
-- retention delete the row (a day after it ends), and ending a session wipes it at once.
ALTER TABLE contact_sessions ADD COLUMN phone_sealed bytea;
