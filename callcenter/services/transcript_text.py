"""Text analysis for transcript search: Mandarin word segmentation, query parsing, highlights.

Both databases index exactly what ``analyze`` returns, and queries are built from the same
analysis, so PostgreSQL and SQLite agree on what a word is. Words are runs of letters and
digits: punctuation, quotes and operators never reach the database as syntax.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from html import escape

import jieba

# A word: letters and digits of any script (underscore counts as punctuation here).
_WORD_RUN = re.compile(r"[^\W_]+")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
# Speech engines write Mandarin with spaces between words; segment the text as one run.
_SPACE_IN_CJK = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
_QUOTED = re.compile(r'"([^"]*)"')
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
# Phone and ID numbers: roles that see identifiers masked may not search by them either.
_IDENTIFIER_LIKE = re.compile(r"^\d{7,}$")

MAX_TOKEN_CHARS = 64
MAX_TERMS = 16
MAX_POSITION = 16383  # PostgreSQL's largest tsvector position

_init_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def tokenizer() -> jieba.Tokenizer:
    """Return jieba's tokenizer, loaded once per process with its cache in a writable place."""
    global _tokenizer
    if _tokenizer is None:
        with _init_lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)  # it logs dictionary loading to stderr
                jieba.dt.tmp_dir = os.environ.get("JIEBA_CACHE_DIR") or tempfile.gettempdir()
                jieba.dt.initialize()
                _tokenizer = jieba.dt
    return _tokenizer


def _words_of_run(run: str) -> list[str]:
    if not _HAS_CJK.search(run):
        return [run]
    # HMM off: new-word guessing depends on context, so a query could segment differently
    # from the same words inside a longer sentence.
    return [w for w in tokenizer().cut(run, HMM=False) if _WORD_RUN.fullmatch(w)]


def words(text: str) -> list[str]:
    """Split text into lower-case words; Mandarin is segmented by jieba's precise mode."""
    text = _SPACE_IN_CJK.sub("", text.lower())
    out: list[str] = []
    for run in _WORD_RUN.findall(text):
        out.extend(w[:MAX_TOKEN_CHARS] for w in _words_of_run(run))
    return out


def _subwords(word: str) -> list[str]:
    """Dictionary words inside a long Mandarin word (降压药 -> 降压), as jieba's search mode."""
    if len(word) <= 2 or not _HAS_CJK.search(word):
        return []
    freq = tokenizer().FREQ
    found = []
    for n in (2, 3):
        for i in range(len(word) - n + 1):
            part = word[i : i + n]
            if part != word and freq.get(part) and part not in found:
                found.append(part)
    return found


def analyze(text: str) -> list[list[str]]:
    """Return one list per word position: the word first, then the shorter words inside it."""
    return [[w, *_subwords(w)] for w in words(text)]


def tsvector_literal(positions: list[list[str]]) -> str:
    """Render an analysis as a PostgreSQL tsvector literal (lexeme:position ...)."""
    where: dict[str, list[int]] = {}
    for pos, lexemes in enumerate(positions, start=1):
        for lexeme in lexemes:
            where.setdefault(lexeme, []).append(min(pos, MAX_POSITION))
    return " ".join(
        f"{_quote_lexeme(lex)}:{','.join(map(str, dict.fromkeys(ps)))}" for lex, ps in where.items()
    )


def _quote_lexeme(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class Query:
    """A sanitized query: every term must match; a term of several words is a phrase."""

    terms: tuple[tuple[str, ...], ...] = ()
    dropped: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.terms

    @property
    def tokens(self) -> list[str]:
        return list(dict.fromkeys(t for term in self.terms for t in term))

    def tsquery(self) -> str:
        """PostgreSQL tsquery text: quoted lexemes joined by & and <-> only."""
        parts = []
        for term in self.terms:
            quoted = [_quote_lexeme(t) for t in term]
            parts.append(quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")")
        return " & ".join(parts)

    def fts5(self) -> str:
        """SQLite FTS5 MATCH text: double-quoted strings only; phrases in the word column."""
        parts = []
        for term in self.terms:
            if len(term) == 1:
                parts.append(f'"{term[0]}"')
            else:
                parts.append('body : "' + " ".join(term) + '"')
        return " AND ".join(parts)


def parse_query(raw: str, *, hide_identifiers: bool = False) -> Query:
    """Turn anything a user typed into plain words and quoted phrases, never into syntax."""
    raw = raw or ""
    terms: list[tuple[str, ...]] = []
    dropped: list[str] = []
    # Text between balanced double quotes is a phrase; an unbalanced quote is just punctuation.
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in _QUOTED.finditer(raw):
        pieces.append((raw[last : match.start()], False))
        pieces.append((match.group(1), True))
        last = match.end()
    pieces.append((raw[last:], False))
    for text, is_phrase in pieces:
        if not is_phrase:
            text = " ".join(w for w in text.split() if w not in _OPERATORS)
        found = words(text)
        if hide_identifiers:
            dropped += [w for w in found if _IDENTIFIER_LIKE.match(w)]
            found = [w for w in found if not _IDENTIFIER_LIKE.match(w)]
        if is_phrase and len(found) > 1:
            terms.append(tuple(found))
        else:
            terms.extend((w,) for w in found)
    unique = list(dict.fromkeys(terms))[:MAX_TERMS]
    return Query(tuple(unique), tuple(dropped))


def _token_pattern(token: str) -> str:
    if _HAS_CJK.search(token):
        # Transcripts may carry spaces between Mandarin words ("降压 药").
        return r"\s*".join(re.escape(ch) for ch in token)
    return r"(?<![^\W_])" + re.escape(token) + r"(?![^\W_])"


def match_spans(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    """Character spans of ``text`` where any token occurs, merged and in order."""
    if not tokens:
        return []
    longest_first = sorted(tokens, key=len, reverse=True)
    pattern = re.compile("|".join(_token_pattern(t) for t in longest_first), re.IGNORECASE)
    spans: list[tuple[int, int]] = []
    for m in pattern.finditer(text):
        if m.end() == m.start():
            continue
        if spans and m.start() <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], m.end()))
        else:
            spans.append((m.start(), m.end()))
    return spans


SNIPPET_CHARS = 240
SNIPPET_BEFORE = 60


def highlight(text: str, tokens: list[str]) -> str:
    """HTML-escape ``text`` and wrap each match in <mark>; the only markup is ours."""
    spans = match_spans(text, tokens)
    start, end = 0, len(text)
    if len(text) > SNIPPET_CHARS:
        first = spans[0][0] if spans else 0
        start = max(0, first - SNIPPET_BEFORE)
        end = min(len(text), start + SNIPPET_CHARS)
    out = ["…" if start > 0 else ""]
    cursor = start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        out.append(escape(text[cursor:a]))
        out.append(f"<mark>{escape(text[a:b])}</mark>")
        cursor = b
    out.append(escape(text[cursor:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)


def first_match_offset(words_: list[dict], tokens: list[str], default: float) -> float:
    """Start time of the first timed word that a token matches, else ``default``."""
    if not words_ or not tokens:
        return default
    joined, owner = [], []
    for index, word in enumerate(words_):
        piece = str(word.get("text", "")) + " "
        joined.append(piece)
        owner.extend([index] * len(piece))
    spans = match_spans("".join(joined), tokens)
    if not spans:
        return default
    start = words_[owner[spans[0][0]]].get("start")
    return float(start) if isinstance(start, int | float) else default
