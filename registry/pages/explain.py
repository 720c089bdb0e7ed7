"""The one error explainer: a DomainError in plain words of the page's language, chosen by its code.

Pages never look at the English `detail`. A refusal's `code` picks the words; a generic
`invalid_input` is explained by the field it names. Contacts and staff read different
words for the same code (a worried person is told what to do, a reviewer what failed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from registry.errors import DomainError, InvalidInput, TooManyRequests
from registry.pages.i18n import Texts

Words = Callable[[Texts], str]


def _wait(exc: DomainError, texts: Texts) -> str:
    """The wait as a time on the clock: "60 minutes" means nothing to someone who reloads ten minutes later."""
    seconds = exc.retry_after if isinstance(exc, TooManyRequests) else 60
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    # A wait past midnight (or longer than a day) needs the date, not only the time.
    when = texts.clock(at) if seconds < 12 * 3600 else texts.datetime(at)
    return texts.gettext("Too many tries from here. You can try again at %(time)s.", time=when)


def _resend_at(exc: DomainError, texts: Texts) -> str:
    """The wait before another code, as a time on the clock (a countdown means nothing after a reload)."""
    seconds = exc.retry_after if isinstance(exc, TooManyRequests) else 60
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return texts.gettext(
        "We sent a code to this number a moment ago: use the newest SMS. You can ask for another at %(time)s.",
        time=texts.clock(at),
    )


# ---- what a contact reads -------------------------------------------------------------------------

CONTACT_BY_CODE: dict[str, Words] = {
    "daily_filings": lambda t: t.gettext(
        "You have filed many complaints today. Please add to an open one, or try again tomorrow."
    ),
    "wrong_code": lambda t: t.gettext("That code is wrong. Check the digits in the newest SMS and type them again."),
    "code_expired": lambda t: t.gettext("That code has expired or was already used. Tap “Send a new code” below."),
    "code_voided": lambda t: t.gettext(
        "That code was typed wrong too many times, so it no longer works. Tap “Send a new code” below."
    ),
    # Not a code: her sign-in ended (it lasts 30 minutes), or she was never signed in on this page.
    "unauthorized": lambda t: t.gettext("Your sign-in has ended. Please sign in again with a new SMS code."),
    "nul_character": lambda t: t.gettext(
        "Something you typed contains an invisible control character. Please type it again and resend."
    ),
    "unavailable": lambda t: t.gettext("We could not send the SMS just now. Please try again in a minute."),
    "not_textable": lambda t: t.gettext(
        "We can send codes only to mobile numbers, not to landlines or numbers abroad. Check the number."
    ),
    "not_found": lambda t: t.gettext("We could not find that. It may have been withdrawn or erased already."),
    "unknown_rule": lambda t: t.gettext("We could not find that. It may have been withdrawn or erased already."),
    "unknown_receipt": lambda t: t.gettext("We could not find that. It may have been withdrawn or erased already."),
    "unknown_dispute": lambda t: t.gettext("We could not find that complaint."),
    "consent_needs_scope": lambda t: t.gettext("Choose an agency, or give the borrower's number, or both."),
    "unknown_agency": lambda t: t.gettext("Choose an agency, or give the borrower's number, or both."),
    "dispute_needs_caller": lambda t: t.gettext("Choose the agency, or give the caller's name or number."),
}

CONTACT_BY_FIELD: dict[str, Words] = {
    "phone": lambda t: t.gettext("That is not a phone number we can use. Check the digits and try again."),
    "code": lambda t: t.gettext("The code has 6 digits. Copy it from the SMS."),
    "borrower_phone": lambda t: t.gettext("The borrower's number is not a phone number we can use. Check the digits."),
    "agency_id": lambda t: t.gettext("Choose the agency, or give the caller's name or number."),
    "caller_numbers": lambda t: t.gettext(
        "One of the caller's numbers is not a phone number we can use. Check the digits."
    ),
    "categories": lambda t: t.gettext("Tick at least one thing that happened."),
    "occurred_at": lambda t: t.gettext(
        "Give the date and time of the call (not in the future, not older than three years)."
    ),
    "description": lambda t: t.gettext("Say what happened, in up to 4000 characters."),
    "call_count": lambda t: t.gettext("The number of calls is a whole number."),
    "caller_name": lambda t: t.gettext("The caller's name is too long."),
    "file": lambda t: t.gettext("The file must be an audio recording, an image or a PDF, at most 10 MB."),
}


def explain(exc: DomainError, texts: Texts, *, max_days: int = 365) -> str:
    """What a contact reads when a page refuses her request."""
    if exc.code == "too_many_requests":
        return _wait(exc, texts)
    if exc.code == "code_resend_wait":
        return _resend_at(exc, texts)
    if exc.code in CONTACT_BY_CODE:
        return CONTACT_BY_CODE[exc.code](texts)
    if isinstance(exc, InvalidInput):
        field = exc.field.split("[")[0]
        if field == "how":
            return texts.gettext("Choose how long: one call only, or until a day you choose.")
        if field == "until":
            return texts.gettext(
                "Choose the last day the calls are allowed: from today to %(max)s days ahead.", max=max_days
            )
        if field in ("days", "expires_at"):
            return texts.gettext("Choose how many days it lasts: a whole number from 1 to %(max)s.", max=max_days)
        if field in CONTACT_BY_FIELD:
            return CONTACT_BY_FIELD[field](texts)
    return texts.gettext("Something is not right. Please check and try again.")


# ---- what staff read ------------------------------------------------------------------------------

STAFF_BY_CODE: dict[str, Words] = {
    "admin_only": lambda t: t.gettext("This needs the admin role; reviewers may read and decide disputes only."),
    "forbidden": lambda t: t.gettext("This needs the admin role; reviewers may read and decide disputes only."),
    "unknown_agency": lambda t: t.gettext("There is no such agency."),
    "unknown_key": lambda t: t.gettext("There is no such API key."),
    "unknown_dispute": lambda t: t.gettext("There is no such dispute."),
    "not_found": lambda t: t.gettext("There is no such dispute."),
    "credit_code_taken": lambda t: t.gettext("An agency with this credit code is already registered."),
    "dispute_closed": lambda t: t.gettext("This dispute has already been decided."),
    "conflict": lambda t: t.gettext("This conflicts with the current state; reload the page and try again."),
    "credit_code_length": lambda t: t.gettext("A unified social credit code has 18 characters."),
    "credit_code_check": lambda t: t.gettext("The credit code's check character does not match (a typo?)."),
    "credit_code_alphabet": lambda t: t.gettext(
        "A credit code has only digits and the letters A-Y without I, O, S, V and Z."
    ),
    "agency_name_length": lambda t: t.gettext("The agency's name must be 1 to 200 characters."),
    "sanction_needs_upheld": lambda t: t.gettext("Only an upheld complaint carries a sanction."),
    "sanction_needs_agency": lambda t: t.gettext(
        "The caller is not a registered agency, so there is no one to sanction."
    ),
}

STAFF_BY_FIELD: dict[str, Words] = {
    "note": lambda t: t.gettext("Write a note saying why."),
    "decision": lambda t: t.gettext("Choose an outcome and a sanction."),
    "days": lambda t: t.gettext("Days must be a whole number from 1 to 3660."),
    "status": lambda t: t.gettext("Unknown status."),
    "agency_id": lambda t: t.gettext("Unknown agency."),
    "daily": lambda t: t.gettext("The notice budget is a whole number from 0 to 1,000,000, or empty for the default."),
}


def explain_for_staff(exc: DomainError, texts: Texts) -> str:
    """A refused action on a staff page (the API keeps its English details)."""
    if exc.code in STAFF_BY_CODE:
        return STAFF_BY_CODE[exc.code](texts)
    if isinstance(exc, InvalidInput) and exc.field in STAFF_BY_FIELD:
        return STAFF_BY_FIELD[exc.field](texts)
    return texts.gettext("That was refused. Please check and try again.")
