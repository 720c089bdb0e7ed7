"""Rules and receipts in plain words, in the reader's language."""

from __future__ import annotations

import msgspec

from registry.contacts.schemas import Receipt, ReceiptAction, Recorded, Rule, RuleChange, StoredReceipt
from registry.pages.i18n import Texts


def describe_rule(rule: Rule, texts: Texts) -> str:
    _ = texts.gettext
    agency = rule.agency_name or ""
    borrower = rule.borrower or ""
    if rule.kind == "refuse":
        if rule.agency_id and rule.borrower:
            text = _("%(agency)s may not call you about the debt of %(borrower)s.", agency=agency, borrower=borrower)
        elif rule.agency_id:
            text = _("%(agency)s may not call you about anyone's debt.", agency=agency)
        elif rule.borrower:
            text = _("No agency may call you about the debt of %(borrower)s.", borrower=borrower)
        else:
            text = _("No agency may call you about anyone's debt.")
    elif rule.agency_id and rule.borrower:
        text = _("%(agency)s may call you about the debt of %(borrower)s.", agency=agency, borrower=borrower)
    elif rule.agency_id:
        text = _("%(agency)s may call you about debts.", agency=agency)
    else:
        text = _("Agencies may call you about the debt of %(borrower)s.", borrower=borrower)
    until = _("No end date.") if rule.expires_at is None else _("Until %(date)s.", date=texts.date(rule.expires_at))
    if rule.once and rule.expires_at is not None:
        until = _("One call only: it ends with their first call, or on %(date)s.", date=texts.date(rule.expires_at))
    # Chinese runs sentences together after "。"; English needs a space.
    return text + ("" if text.endswith("。") else " ") + until


def receipt_text(action: ReceiptAction, rule: Rule, texts: Texts, withdrawn: list[Rule] | None = None) -> str:
    _ = texts.gettext
    if action != "rule_added":
        return _("Withdrawn, no longer in force: %(rule)s", rule=describe_rule(rule, texts))
    text = _("Recorded: %(rule)s", rule=describe_rule(rule, texts))
    # The latest action wins: the consents this refusal covers are withdrawn with it, and it says so.
    for consent in withdrawn or []:
        text += ("" if text.endswith("。") else " ") + _(
            "Withdrawn with it: %(rule)s", rule=describe_rule(consent, texts)
        )
    return text


def worded(stored: StoredReceipt, texts: Texts) -> Receipt:
    """A receipt with its words in the reader's language (added after the change's transaction)."""
    text = receipt_text(stored.action, stored.rule, texts, stored.withdrawn)
    return Receipt(**msgspec.structs.asdict(stored), text=text)


def worded_change(recorded: Recorded, texts: Texts) -> RuleChange:
    return RuleChange(rule=recorded.rule, receipt=worded(recorded.receipt, texts))
