"""The Chinese catalogue covers every user-facing string, and the committed .mo matches the .po."""

from __future__ import annotations

import gettext
import io
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIR = ROOT / "callcenter" / "translations" / "zh" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
# Attributes a person reads or hears (screen readers): checked like text.
READ_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt"}


@cache
def catalog():
    with (CATALOG_DIR / "messages.po").open("rb") as f:
        return read_po(f, locale="zh")


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def extracted_msgids() -> set[str]:
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_extracted_string_has_a_translation():
    in_po = {_ids(m)[0] for m in catalog() if m.id}
    missing = sorted(extracted_msgids() - in_po)
    assert missing == [], f"add these to {CATALOG_DIR / 'messages.po'} (see babel.cfg): {missing}"


def test_no_translation_is_empty_or_fuzzy():
    empty = [m.id for m in catalog() if m.id and not all(_strings(m.string))]
    fuzzy = [m.id for m in catalog() if m.id and m.fuzzy]
    assert empty == [] and fuzzy == []


def _strings(value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def test_placeholders_survive_translation():
    for message in catalog():
        if message.id:
            for msgid, msgstr in zip(_ids(message), _strings(message.string), strict=False):
                assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), (
                    msgid
                )


def test_the_committed_mo_is_compiled_from_the_po():
    fresh = io.BytesIO()
    write_mo(fresh, catalog())
    fresh.seek(0)
    with (CATALOG_DIR / "messages.mo").open("rb") as f:
        committed = gettext.GNUTranslations(f)
    compiled = gettext.GNUTranslations(fresh)
    assert committed._catalog == compiled._catalog, (
        "messages.mo is stale: run .venv/bin/pybabel compile -d callcenter/translations"
    )


class _ReadableText(HTMLParser):
    """Text a person sees or hears on a page: text nodes and labelling attributes, no scripts."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self.parts += [value for name, value in attrs if name in READ_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


@cache
def _english_patterns() -> list[tuple[str, re.Pattern]]:
    patterns = []
    for message in catalog():
        if not message.id:
            continue
        for msgid in _ids(message):
            for fragment in PLACEHOLDER.split(msgid):
                fragment = fragment.strip(" .,:;!?…")
                if len(fragment) >= 3 and re.search(r"[A-Za-z]{3}", fragment):
                    patterns.append((fragment, re.compile(rf"(?<![\w-]){re.escape(fragment)}\b")))
    return patterns


def english_leftovers(html: str) -> list[str]:
    """The catalogue's English strings that appear on a page meant to be Chinese."""
    parser = _ReadableText()
    parser.feed(html)
    text = "\n".join(parser.parts)
    return sorted({fragment for fragment, pattern in _english_patterns() if pattern.search(text)})


def test_the_leftover_check_finds_english():
    assert english_leftovers("<p>Latest indicators</p><p title='Out of range'>x</p>") == [
        "Latest indicators",
        "Out of range",
    ]
    assert english_leftovers("<p>最新指标</p><script>var s = 'Latest indicators';</script>") == []
