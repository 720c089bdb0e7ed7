"""Languages of the pages: Simplified Chinese first, English second, from Babel `.po` catalogs.

The `.po` files in locale/ are the source of truth; they are compiled in memory the
first time a language is used, so a fresh clone needs no build step and no `.mo` files.
See I18N.md for how templates use this and how to add messages.
"""

from __future__ import annotations

import functools
import gettext
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from registry.jurisdiction import CHINA

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
COOKIE = "lang"
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of one language (fuzzy entries are left out, as msgfmt does)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as file:
        catalog = read_po(file, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header; Chinese when nothing matches."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        locale = {"zh": "zh_CN", "en": "en"}.get(primary)
        if locale and quality > 0:
            choices.append((-quality, position, locale))
    return min(choices)[2] if choices else DEFAULT_LOCALE


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language switch (a cookie) wins over the browser's Accept-Language."""
    if cookie in LOCALES:
        return cookie
    return negotiate(accept_language)


class Texts:
    """One language's words, dates and times: what templates call `_`, `date` and `datetime`."""

    def __init__(self, locale: str, zone: ZoneInfo = CHINA.display_zone) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self.translations = translations(self.locale)
        # Times are shown in the jurisdiction's zone (Beijing time in China); the API stays UTC.
        self.zone = zone

    def gettext(self, message: str, **values: Any) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def date(self, value: datetime) -> str:
        return format_date(value.astimezone(self.zone), format="long", locale=self.locale)

    def clock(self, value: datetime) -> str:
        """A time of day, for a wait shorter than a day: `14:32 Beijing time`."""
        local = format_time(value.astimezone(self.zone), format="short", locale=self.locale)
        return self.gettext("%(time)s Beijing time", time=local)

    def datetime(self, value: datetime) -> str:
        local = format_datetime(value.astimezone(self.zone), format="medium", locale=self.locale)
        return self.gettext("%(time)s Beijing time", time=local)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.locale]
