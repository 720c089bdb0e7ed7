-- Issue 11: consent as people mean it: "they may call me once". A consent with `once` ends with the
-- first permit issued under it: the check that allows the call stamps the consent withdrawn, so the
-- next check finds it gone (and her refusal, if she has one, answers again). The permit itself stays
-- valid: that is the one call she allowed. It still has an end date like every consent, for a call
-- that never comes.
--
-- Done by a trigger on permits rather than in the check statement, so the decision (and its
-- property-tested reference, registry/policy.py) is unchanged: a once-consent decides exactly as a
-- consent does until it is used. Only permits that name a rule pay for the trigger's one lookup.
ALTER TABLE rules ADD COLUMN once boolean NOT NULL DEFAULT false;
ALTER TABLE rules ADD CONSTRAINT rules_once_is_a_consent CHECK (NOT once OR kind = 'consent');

CREATE FUNCTION use_once_consent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- By (phone_key, id): the rule is the same contact's, so this stays on one shard (docs/scale.md).
    UPDATE rules SET withdrawn_at = NEW.issued_at
    WHERE phone_key = NEW.phone_key AND id = NEW.rule_id AND once AND withdrawn_at IS NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER permits_use_once_consent AFTER INSERT ON permits
    FOR EACH ROW WHEN (NEW.rule_id IS NOT NULL) EXECUTE FUNCTION use_once_consent();
