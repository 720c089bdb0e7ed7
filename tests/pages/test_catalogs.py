"""The message catalogs: every string the pages and receipts use has its Chinese, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from registry.pages.i18n import LOCALE_DIR, Texts, choose, negotiate

REGISTRY = Path(__file__).resolve().parents[2] / "registry"
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def used_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(REGISTRY), METHODS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_used_string_has_a_chinese_translation_with_the_same_placeholders() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file, locale="zh_CN")
    used = used_messages()
    assert "Refuse all calls" in used and len(used) > 50
    untranslated = sorted(m for m in used if not catalog.get(m) or not catalog[m].string or catalog[m].fuzzy)
    assert untranslated == [], "run pybabel extract/update and translate these (see registry/web/I18N.md)"
    for message in used:
        string = catalog[message].string
        assert isinstance(string, str)
        assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(message)), message


def test_catalogs_compile_at_run_time() -> None:
    assert Texts("zh_CN").gettext("Refuse all calls") == "拒绝所有催收来电"
    assert Texts("en").gettext("Refuse all calls") == "Refuse all calls"
    assert Texts("zh_CN").gettext("Number: %(phone)s", phone="+86 138****8000") == "号码：+86 138****8000"


def test_language_choice() -> None:
    assert negotiate(None) == "zh_CN"
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("fr-FR,en;q=0.5,zh-CN;q=0.8") == "zh_CN"
    assert negotiate("de-DE") == "zh_CN"
    assert choose("en", "zh-CN") == "en"
    assert choose("xx", "en-GB") == "en"
