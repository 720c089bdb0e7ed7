"""Rules and receipts in plain words, in the reader's language."""

from __future__ import annotations

from registry.contacts.schemas import ReceiptAction, Rule
from registry.web.i18n import Texts


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
    # Chinese runs sentences together after "。"; English needs a space.
    return text + ("" if text.endswith("。") else " ") + until


def receipt_text(action: ReceiptAction, rule: Rule, texts: Texts) -> str:
    _ = texts.gettext
    if action == "rule_added":
        return _("Recorded: %(rule)s", rule=describe_rule(rule, texts))
    return _("Withdrawn, no longer in force: %(rule)s", rule=describe_rule(rule, texts))
