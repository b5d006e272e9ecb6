"""Language flags: explainable word rules that point out threats, knowledge of someone's
whereabouts or routine, sexual content, self-harm or suicide, and weapons in message bodies and
incident descriptions, showing exactly which words matched and which rule they matched.

A flag is not a judgement and not a score: it says "these words are here", so that a person can
read them. The rules are data, one TOML file per language in this folder (``en.toml``); the
comment at the top of that file explains the pattern language and how to add a language.

Words are found the way the diary's SQLite FTS5 index finds them (the ``unicode61`` tokenizer
with ``remove_diacritics 2``): letters and digits make words, everything else separates them,
case and accents are folded. Characters beyond ASCII are classified by asking SQLite itself,
once per character, so the two always agree. That is what makes :meth:`Lexicon.fts_query`
safe: every text in which :meth:`Lexicon.scan` finds a match is also found by the FTS5 query,
so analysis can ask the index for candidates and scan only those.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import re
import sqlite3
import threading
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from docket.errors import DocketError, InputError, Location, UnknownChoice

__all__ = [
    "FLAG_CODES",
    "Lexicon",
    "Match",
    "available",
    "load",
    "parse",
]

FLAG_CODES: tuple[str, ...] = ("threat", "whereabouts", "sexual", "self_harm", "weapon")

GAP_WORDS = 3  # "..." stands for up to this many words
MIN_PREFIX = 2  # a prefix word ("kill*") needs at least this many letters before the star
MAX_CHOICES = 2000  # phrases one bracket may stand for, once word sets are spelt out

_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Match:
    """One place where a rule matched: the words as written, where they are, and why."""

    flag: str  # one of FLAG_CODES
    label: str  # plain words, e.g. "Threatening words"
    words: str  # the matched text exactly as it appears in the input
    start: int  # character offsets into the input: text[start:end] == words
    end: int
    rule: str  # the pattern that matched, as written in the lexicon


# --- words, as the FTS5 unicode61 tokenizer sees them ---------------------------------------


@dataclass(frozen=True)
class _Token:
    folded: str
    start: int
    end: int


# ASCII: letters and digits are word characters (letters folded to lower case); everything
# else, including "_" and the apostrophe, separates words. Checked against SQLite in the tests.
_ASCII_FOLD: tuple[str | None, ...] = tuple(
    chr(i).lower() if chr(i).isascii() and chr(i).isalnum() else None for i in range(128)
)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


class _CharTable:
    """How SQLite's unicode61 tokenizer treats each character beyond ASCII: a separator
    (None) or part of a word, folded to the returned text (which may be empty, for an accent
    that is removed). Learnt by asking SQLite, once per character, and remembered."""

    def __init__(self) -> None:
        self._known: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def get(self, ch: str) -> str | None:
        return self._known[ch]

    def learn(self, chars: set[str]) -> None:
        unknown = chars - self._known.keys()
        if not unknown:
            return
        with self._lock:
            unknown = chars - self._known.keys()
            if unknown:
                self._known.update(self._ask_sqlite(unknown))

    def _ask_sqlite(self, chars: set[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        rows: list[tuple[int, str]] = []
        for ch in chars:
            if 0xD800 <= ord(ch) <= 0xDFFF:
                out[ch] = None  # a lone surrogate cannot be stored in SQLite at all
            else:
                rows.append((ord(ch), f"x{ch}x"))
        if not rows:
            return out
        conn = self._connection()
        with conn:
            conn.execute("DELETE FROM probe")
            conn.executemany("INSERT INTO probe(rowid, body) VALUES (?, ?)", rows)
            terms: dict[int, list[str]] = {}
            for doc, term in conn.execute("SELECT doc, term FROM probe_terms ORDER BY doc, offset"):
                terms.setdefault(doc, []).append(term)
            conn.execute("DELETE FROM probe")
        for cp, _ in rows:
            found = terms.get(cp, [])
            if len(found) == 1 and len(found[0]) >= 2:
                out[chr(cp)] = found[0][1:-1]  # "x" + folded character + "x"
            else:
                out[chr(cp)] = None  # "x", "x": the character separates words
        return out

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            try:
                conn.execute(
                    "CREATE VIRTUAL TABLE probe USING fts5(body, "
                    "tokenize='unicode61 remove_diacritics 2')"
                )
                conn.execute("CREATE VIRTUAL TABLE probe_terms USING fts5vocab(probe, 'instance')")
            except sqlite3.OperationalError as exc:  # pragma: no cover - FTS5 is always built in
                conn.close()
                raise DocketError(
                    "Language flags need SQLite's full-text search (FTS5), which this Python "
                    "does not have.",
                    hint="Install Docket with a Python whose sqlite3 module includes FTS5.",
                ) from exc
            self._conn = conn
        return self._conn


_CHARS = _CharTable()


def _tokenize(text: str) -> list[_Token]:
    """The words of ``text`` as FTS5's unicode61 tokenizer (remove_diacritics 2) makes them:
    each with its folded form and its character offsets in ``text``."""
    if text.isascii():
        return [_Token(m.group().lower(), m.start(), m.end()) for m in _ASCII_WORD.finditer(text)]
    _CHARS.learn({ch for ch in text if ord(ch) >= 128})
    tokens: list[_Token] = []
    start = -1
    parts: list[str] = []
    for i, ch in enumerate(text):
        cp = ord(ch)
        folded = _ASCII_FOLD[cp] if cp < 128 else _CHARS.get(ch)
        if folded is None:
            if start >= 0:
                word = "".join(parts)
                if word:  # a word of nothing but removed accents is no word
                    tokens.append(_Token(word, start, i))
                start = -1
            continue
        if start < 0:
            start = i
            parts = []
        parts.append(folded)
    if start >= 0:
        word = "".join(parts)
        if word:
            tokens.append(_Token(word, start, len(text)))
    return tokens


# --- the pattern language -------------------------------------------------------------------


@dataclass(frozen=True)
class _Word:
    raw: str  # as the tokenizer found it in the lexicon (for the FTS5 query)
    folded: str  # folded, for matching
    prefix: bool


@dataclass(frozen=True)
class _Slot:
    """One place in a pattern: a choice of word sequences (a single word is a choice of one),
    possibly optional; or a gap of up to GAP_WORDS words."""

    choices: tuple[tuple[_Word, ...], ...]
    optional: bool = False
    gap: bool = False


@dataclass(frozen=True)
class _Pattern:
    source: str
    regex: re.Pattern[str]
    fts: str
    slots: tuple[_Slot, ...]
    # Words the text must have for the pattern to match: each set holds alternatives, written
    # "kill" for a word and "kill*" for a word starting so. Used to skip patterns quickly.
    needs: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class _Rule:
    pattern: _Pattern
    unless: tuple[_Pattern, ...]


@dataclass(frozen=True)
class _Flag:
    code: str
    label: str
    about: str
    rules: tuple[_Rule, ...]
    exclude: tuple[_Pattern, ...]


class _PatternError(Exception):
    """Why a pattern cannot be used; turned into an InputError naming the pattern."""


def _words_of(text: str, sets: dict[str, tuple[tuple[_Word, ...], ...]]) -> list[_Slot]:
    """The slots for a run of plain words (no brackets or gaps), with {set} references."""
    slots: list[_Slot] = []
    for item in text.split():
        if item.startswith("{"):
            name, _, rest = item[1:].partition("}")
            if name not in sets:
                known = ", ".join(sorted(sets)) or "none are defined"
                raise _PatternError(f"there is no word set called {{{name}}} ({known})")
            if rest not in ("", "?"):
                raise _PatternError(f"unexpected {rest!r} after {{{name}}}")
            slots.append(_Slot(choices=sets[name], optional=rest == "?"))
            continue
        slots.extend(_Slot(choices=(seq,)) for seq in [_word_sequence(item)])
    return slots


def _word_sequence(item: str) -> tuple[_Word, ...]:
    """One written word ("i'll", "kill*", "self-harm") as the words the tokenizer sees."""
    if "..." in item:
        raise _PatternError(f"write a gap as ... on its own, between words (in {item!r})")
    if any(c in item for c in "{}?"):
        raise _PatternError(f"{item!r} has a character the pattern language does not allow")
    prefix = item.endswith("*")
    body = item[:-1] if prefix else item
    if "*" in body:
        raise _PatternError(f"a star may only end a word (in {item!r})")
    tokens = _tokenize(body)
    if not tokens:
        raise _PatternError(f"{item!r} has no letters or digits")
    words = [_Word(raw=body[t.start : t.end], folded=t.folded, prefix=False) for t in tokens]
    if prefix:
        last = words[-1]
        if tokens[-1].end != len(body):
            raise _PatternError(f"a star must follow a letter or digit (in {item!r})")
        if len(last.folded) < MIN_PREFIX:
            raise _PatternError(
                f"a word ending in * needs at least {MIN_PREFIX} letters before the star "
                f"(in {item!r})"
            )
        words[-1] = _Word(raw=last.raw, folded=last.folded, prefix=True)
    return tuple(words)


def _alternative(
    text: str, sets: dict[str, tuple[tuple[_Word, ...], ...]]
) -> list[tuple[_Word, ...]]:
    """The word sequences one choice in brackets stands for: its words, with each {set} in it
    standing for every phrase of that set."""
    sequences: list[tuple[_Word, ...]] = [()]
    for item in text.split():
        if item.startswith("{") and item.endswith("}"):
            name = item[1:-1]
            if name not in sets:
                known = ", ".join(sorted(sets)) or "none are defined"
                raise _PatternError(f"there is no word set called {{{name}}} ({known})")
            options = sets[name]
        else:
            options = (_word_sequence(item),)
        sequences = [seq + option for seq in sequences for option in options]
        if len(sequences) > MAX_CHOICES:
            raise _PatternError(f"one bracket stands for more than {MAX_CHOICES} phrases")
    return sequences


def _slots(source: str, sets: dict[str, tuple[tuple[_Word, ...], ...]]) -> list[_Slot]:
    slots: list[_Slot] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif source.startswith("...", i):
            end = i + 3
            if end < n and not source[end].isspace():
                raise _PatternError("write a gap as ... on its own, between words")
            slots.append(_Slot(choices=(), gap=True))
            i = end
        elif ch == "(":
            close = source.find(")", i)
            if close < 0:
                raise _PatternError('a "(" is not closed')
            inner = source[i + 1 : close]
            if "(" in inner:
                raise _PatternError("brackets cannot be put inside brackets")
            optional = close + 1 < n and source[close + 1] == "?"
            end = close + (2 if optional else 1)
            if end < n and not source[end].isspace():
                raise _PatternError(f"put a space after {source[i:end]!r}")
            choices: list[tuple[_Word, ...]] = []
            for alternative in inner.split("|"):
                if not alternative.strip():
                    raise _PatternError(
                        "a choice in brackets is empty (write (a|b)? for an optional choice)"
                    )
                if "..." in alternative:
                    raise _PatternError("a gap (...) cannot be inside brackets")
                choices.extend(_alternative(alternative, sets))
            if len(choices) > MAX_CHOICES:
                raise _PatternError(f"one bracket stands for more than {MAX_CHOICES} phrases")
            slots.append(_Slot(choices=tuple(dict.fromkeys(choices)), optional=optional))
            i = end
        elif ch in ")|?":
            raise _PatternError(f"unexpected {ch!r}")
        else:
            end = i
            while end < n and not source[end].isspace() and source[end] not in "()|":
                end += 1
            if end < n and source[end] in "()|":
                raise _PatternError(f"put a space between {source[i:end]!r} and {source[end]!r}")
            slots.extend(_words_of(source[i:end], sets))
            i = end
    return slots


def _compile(source: str, sets: dict[str, tuple[tuple[_Word, ...], ...]]) -> _Pattern:
    if not isinstance(source, str) or not source.strip():
        raise _PatternError("the pattern is empty")
    slots = _slots(source, sets)
    if not any(not s.optional and not s.gap for s in slots):
        raise _PatternError("a pattern needs at least one word that must be there")
    if slots[0].gap or slots[-1].gap:
        raise _PatternError("a gap (...) must be between words, not at the start or end")
    for a, b in itertools.pairwise(slots):
        if a.gap and b.gap:
            raise _PatternError("two gaps in a row")
    return _Pattern(
        source=source,
        regex=re.compile("(?<![^ ])" + "".join(_slot_regex(s) for s in slots)),
        fts=_fts(slots),
        slots=tuple(slots),
        needs=tuple(
            frozenset(_key(c[0]) for c in s.choices) for s in slots if not s.optional and not s.gap
        ),
    )


def _key(word: _Word) -> str:
    return word.folded + ("*" if word.prefix else "")


def _anchor(pattern: _Pattern) -> frozenset[str]:
    """The requirement used to find the pattern's candidates: the one whose shortest word is
    longest (long words are rarer), so that few texts bring the pattern up."""
    return max(pattern.needs, key=lambda need: min(len(k) for k in need))


def _word_regex(word: _Word) -> str:
    return re.escape(word.folded) + ("[^ ]*" if word.prefix else "")


def _slot_regex(slot: _Slot) -> str:
    # The text is matched as its folded words, each followed by one space ("i ll kill you ").
    if slot.gap:
        return f"(?:[^ ]+ ){{0,{GAP_WORDS}}}"
    choices = "|".join(" ".join(_word_regex(w) for w in seq) for seq in slot.choices)
    return f"(?:(?:{choices}) )" + ("?" if slot.optional else "")


def _fts_word(word: _Word) -> str:
    return '"' + word.raw.replace('"', '""') + '"' + ("*" if word.prefix else "")


def _fts_phrase(words: tuple[_Word, ...] | list[_Word]) -> str:
    return " + ".join(_fts_word(w) for w in words)


def _fts(slots: list[_Slot]) -> str:
    """An FTS5 expression that every text this pattern matches also matches: each run of
    words that must be next to each other becomes a phrase, each choice an OR of phrases, all
    joined by AND; optional parts and gaps are left out."""
    terms: list[str] = []
    run: list[_Word] = []
    for slot in slots:
        if not slot.gap and not slot.optional and len(slot.choices) == 1:
            run.extend(slot.choices[0])
            continue
        if run:
            terms.append(_fts_phrase(run))
            run = []
        if slot.gap or slot.optional:
            continue
        terms.append("(" + " OR ".join(_fts_phrase(seq) for seq in slot.choices) + ")")
    if run:
        terms.append(_fts_phrase(run))
    return " AND ".join(terms)


# --- scanning -------------------------------------------------------------------------------


class _Text:
    """A text prepared for matching: its words, folded and joined by single spaces."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        # every word, and every start of a word ("kil*") a prefix pattern could ask for
        present: set[str] = set()
        for word in {t.folded for t in self.tokens}:
            present.add(word)
            present.update(word[:n] + "*" for n in range(MIN_PREFIX, len(word) + 1))
        self.present = present
        starts: list[int] = []
        pos = 0
        for t in self.tokens:
            starts.append(pos)
            pos += len(t.folded) + 1
        self.starts = starts
        self.joined = "".join(t.folded + " " for t in self.tokens)
        self._found: dict[str, list[tuple[int, int]]] = {}

    def has(self, needed: frozenset[str]) -> bool:
        return not needed.isdisjoint(self.present)

    def find(self, pattern: _Pattern) -> list[tuple[int, int]]:
        """Where ``pattern`` matches, as (first word, last word) indexes."""
        if pattern.source in self._found:
            return self._found[pattern.source]
        spans: list[tuple[int, int]] = []
        if all(self.has(n) for n in pattern.needs):
            for m in pattern.regex.finditer(self.joined):
                first = bisect.bisect_left(self.starts, m.start())
                last = bisect.bisect_right(self.starts, m.end() - 1) - 1
                spans.append((first, last))
        self._found[pattern.source] = spans
        return spans


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] <= b and a <= span[1] for a, b in others)


@dataclass(frozen=True)
class Lexicon:
    """The compiled rules of one language."""

    language: str
    version: str  # sha256 of the lexicon file (or of the data given to parse), 12 hex digits
    name: str = ""
    _flags: tuple[_Flag, ...] = field(default=(), repr=False, compare=False)
    _fts: str = field(default="", repr=False, compare=False)
    # word (or "stem*") -> the (flag, rule) positions whose anchor it is
    _index: dict[str, tuple[tuple[int, int], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def scan(self, text: str) -> list[Match]:
        """Every place a rule matches, in text order; within one flag, matches do not overlap
        (where two would, the one that starts first wins, then the longer one)."""
        prepared = _Text(text)
        if not prepared.tokens:
            return []
        wanted: set[tuple[int, int]] = set()
        for key in prepared.present:
            wanted.update(self._index.get(key, ()))
        found: list[tuple[int, int, Match]] = []
        for order, flag in enumerate(self._flags):
            candidates: list[tuple[int, int, int, _Rule]] = []
            for index, rule in enumerate(flag.rules):
                if (order, index) not in wanted:
                    continue
                for span in prepared.find(rule.pattern):
                    candidates.append((span[0], -(span[1] - span[0]), index, rule))
            if not candidates:
                continue
            candidates.sort(key=lambda c: c[:3])
            taken: list[tuple[int, int]] = []
            for first, negative_length, _, rule in candidates:
                span = (first, first - negative_length)
                if _overlaps(span, taken):
                    continue
                if any(_overlaps(span, prepared.find(p)) for p in (*rule.unless, *flag.exclude)):
                    continue
                taken.append(span)
                start = prepared.tokens[span[0]].start
                end = prepared.tokens[span[1]].end
                match = Match(
                    flag=flag.code,
                    label=flag.label,
                    words=text[start:end],
                    start=start,
                    end=end,
                    rule=rule.pattern.source,
                )
                found.append((start, order, match))
        found.sort(key=lambda f: (f[0], f[1]))
        return [m for _, _, m in found]

    def flags(self, text: str) -> set[str]:
        return {m.flag for m in self.scan(text)}

    def fts_query(self) -> str:
        """An SQLite FTS5 MATCH expression that finds every text :meth:`scan` could match
        (and some it will not): ask the index with it, then scan only what it returns."""
        return self._fts

    def labels(self) -> dict[str, str]:
        """Flag code -> plain label, for the flags this language has rules for."""
        return {f.code: f.label for f in self._flags}

    def descriptions(self) -> dict[str, str]:
        """Flag code -> one or two sentences on what the flag looks for."""
        return {f.code: f.about for f in self._flags}

    def rules(self, flag: str) -> list[str]:
        """The patterns of one flag, as written in the lexicon (empty for a flag it lacks)."""
        for f in self._flags:
            if f.code == flag:
                return [r.pattern.source for r in f.rules]
        return []


# --- loading --------------------------------------------------------------------------------


def available() -> list[str]:
    """The languages there is a lexicon for, e.g. ["en"]."""
    folder = resources.files(__package__)
    return sorted(
        p.name.removesuffix(".toml")
        for p in folder.iterdir()
        if p.name.endswith(".toml") and _LANGUAGE.match(p.name.removesuffix(".toml"))
    )


def load(language: str = "en") -> Lexicon:
    """The lexicon for ``language`` (compiled once, then remembered). An unknown language
    raises UnknownChoice, whose hint names the languages there are."""
    return _load(language)


@cache
def _load(language: str) -> Lexicon:
    names = available()
    if language not in names:
        raise UnknownChoice(
            f"There are no language flags for {language!r}.",
            hint="Languages with flags: " + ", ".join(names) + ".",
            details={"language": language, "available": names},
        )
    raw = resources.files(__package__).joinpath(f"{language}.toml").read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            f"The {language} language flags file could not be read: {exc}",
            location=Location(file=f"{language}.toml"),
        ) from exc
    return parse(language, data, version=hashlib.sha256(raw).hexdigest()[:12])


_TOP_KEYS = {"lexicon", "sets", "flags"}
_FLAG_KEYS = {"label", "about", "rules", "exclude"}
_RULE_KEYS = {"pattern", "unless"}


def parse(language: str, data: dict[str, Any], *, version: str | None = None) -> Lexicon:
    """A lexicon from TOML-decoded ``data``. Any problem raises InputError naming the part of
    the file and, for a pattern, the pattern itself and what is wrong with it."""
    where = f"{language}.toml"

    def fail(message: str, record: str, hint: str | None = None) -> InputError:
        return InputError(
            f"The {language} language flags cannot be used: {message}",
            hint=hint,
            location=Location(file=where, record=record),
        )

    if not isinstance(data, dict):
        raise fail("the file does not hold a table", "(top)")
    stray = set(data) - _TOP_KEYS
    if stray:
        raise fail(
            "unknown section " + ", ".join(sorted(map(repr, stray))),
            "(top)",
            hint="The sections are [lexicon], [sets] and [flags.CODE].",
        )
    head = data.get("lexicon", {})
    if not isinstance(head, dict):
        raise fail("[lexicon] must be a table", "lexicon")
    declared = head.get("language", language)
    if declared != language:
        raise fail(f"it says it is for {declared!r}, not {language!r}", "lexicon.language")
    name = head.get("name", language)
    if not isinstance(name, str):
        raise fail("the name must be text", "lexicon.name")

    def compile_one(source: object, record: str) -> _Pattern:
        if not isinstance(source, str):
            raise fail("a pattern must be text", record)
        try:
            return _compile(source, sets)
        except _PatternError as exc:
            raise fail(
                f"the pattern {source!r} — {exc}.",
                record,
                hint="The comment at the top of en.toml explains how patterns are written.",
            ) from None

    raw_sets = data.get("sets", {})
    if not isinstance(raw_sets, dict):
        raise fail("[sets] must be a table", "sets")
    sets: dict[str, tuple[tuple[_Word, ...], ...]] = {}
    for set_name, members in raw_sets.items():
        record = f"sets.{set_name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", set_name):
            raise fail(
                f"a set name must be lower-case letters, digits and _ ({set_name!r})", record
            )
        if not isinstance(members, list) or not members:
            raise fail("a word set must be a non-empty list of words or phrases", record)
        seqs: list[tuple[_Word, ...]] = []
        for i, member in enumerate(members):
            if (
                not isinstance(member, str)
                or any(c in member for c in "(){}|?")
                or ("..." in member)
            ):
                raise fail(
                    f"{member!r} — a set holds plain words or phrases only", f"{record}[{i}]"
                )
            try:
                seq: list[_Word] = []
                for item in member.split():
                    seq.extend(_word_sequence(item))
            except _PatternError as exc:
                raise fail(f"{member!r} — {exc}.", f"{record}[{i}]") from None
            if not seq:
                raise fail("an empty member", f"{record}[{i}]")
            seqs.append(tuple(seq))
        sets[set_name] = tuple(dict.fromkeys(seqs))

    raw_flags = data.get("flags", {})
    if not isinstance(raw_flags, dict) or not raw_flags:
        raise fail("there are no [flags.CODE] sections", "flags")
    stray = set(raw_flags) - set(FLAG_CODES)
    if stray:
        raise fail(
            "unknown flag " + ", ".join(sorted(map(repr, stray))),
            "flags",
            hint="The flags are: " + ", ".join(FLAG_CODES) + ".",
        )
    flags: list[_Flag] = []
    for code in FLAG_CODES:
        if code not in raw_flags:
            continue
        spec = raw_flags[code]
        record = f"flags.{code}"
        if not isinstance(spec, dict):
            raise fail("must be a table", record)
        stray = set(spec) - _FLAG_KEYS
        if stray:
            raise fail(
                "unknown key " + ", ".join(sorted(map(repr, stray))),
                record,
                hint="A flag has label, about, rules and exclude.",
            )
        label = spec.get("label")
        if not isinstance(label, str) or not label.strip():
            raise fail("a flag needs a label (plain words)", f"{record}.label")
        about = spec.get("about", "")
        if not isinstance(about, str):
            raise fail("about must be text", f"{record}.about")
        raw_rules = spec.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            raise fail("a flag needs a non-empty list of rules", f"{record}.rules")
        rules: list[_Rule] = []
        seen: set[str] = set()
        for i, entry in enumerate(raw_rules):
            rule_record = f"{record}.rules[{i}]"
            unless_raw: object = []
            if isinstance(entry, dict):
                stray = set(entry) - _RULE_KEYS
                if stray:
                    raise fail(
                        "unknown key " + ", ".join(sorted(map(repr, stray))),
                        rule_record,
                        hint="A rule is a pattern, or a table with pattern and unless.",
                    )
                source = entry.get("pattern")
                unless_raw = entry.get("unless", [])
            else:
                source = entry
            pattern = compile_one(source, rule_record)
            if pattern.source in seen:
                raise fail(f"the pattern {pattern.source!r} is listed twice", rule_record)
            seen.add(pattern.source)
            if not isinstance(unless_raw, list):
                raise fail("unless must be a list of patterns", f"{rule_record}.unless")
            unless = tuple(
                compile_one(u, f"{rule_record}.unless[{j}]") for j, u in enumerate(unless_raw)
            )
            rules.append(_Rule(pattern=pattern, unless=unless))
        raw_exclude = spec.get("exclude", [])
        if not isinstance(raw_exclude, list):
            raise fail("exclude must be a list of patterns", f"{record}.exclude")
        exclude = tuple(compile_one(p, f"{record}.exclude[{j}]") for j, p in enumerate(raw_exclude))
        flags.append(
            _Flag(
                code=code,
                label=label.strip(),
                about=about.strip(),
                rules=tuple(rules),
                exclude=exclude,
            )
        )
    fts = " OR ".join(dict.fromkeys(f"({r.pattern.fts})" for flag in flags for r in flag.rules))
    if version is None:
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    index: dict[str, list[tuple[int, int]]] = {}
    for f_pos, flag in enumerate(flags):
        for r_pos, rule in enumerate(flag.rules):
            for key in _anchor(rule.pattern):
                index.setdefault(key, []).append((f_pos, r_pos))
    return Lexicon(
        language=language,
        version=version,
        name=name,
        _flags=tuple(flags),
        _fts=fts,
        _index={k: tuple(v) for k, v in index.items()},
    )
