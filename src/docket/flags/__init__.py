"""Language flags: explainable word rules that point out threats, knowledge of someone's
whereabouts or routine, sexual content, self-harm or suicide, and weapons in message bodies and
incident descriptions, showing exactly which words matched and which rule they matched.

A flag is not a judgement and not a score: it says "these words are here", so that a person can
read them. The rules are data, one TOML file per language in this folder (``en.toml``); the
comment at the top of that file explains the pattern language and how to add a language.

Words are found the way the diary's SQLite FTS5 index finds them (the ``unicode61`` tokenizer
with ``remove_diacritics 2``): letters and digits make words, everything else separates them,
case and accents are folded. Characters beyond ASCII are classified by asking SQLite itself,
once per character, so the two always agree.

Speed. Every text a rule matches has a word from each of the rule's *needs* (the places in it
that must be filled, each with its choice of words), so looking for one need's words is enough
to find all of them. A rule's *anchor* is its need whose words turn up least often in
everyday messages, judged from the lexicon's list of common words and from word length.
:meth:`Lexicon.scan` first looks, with one regular expression, for any rule's anchor word:
most texts have none and are done with there. Otherwise it runs only the rules, and the
exclusions, whose every need the text meets. :meth:`Lexicon.fts_query` asks the diary's index
for each rule's least costly words: uncommon words alone, and common words ("me", "saw") only
together (AND) with those of another need, since alone they would bring up a large share of
all messages (see :class:`_Planner`). The index so returns a superset of the texts the rules
can match, and only those are fetched and scanned. :meth:`Lexicon.tsquery` is the same query
for a case on a server, whose index is PostgreSQL's.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import operator
import re
import sqlite3
import threading
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import Any, NamedTuple

from docket.errors import DocketError, InputError, Location, UnknownChoice

__all__ = [
    "FLAG_CODES",
    "Lexicon",
    "Match",
    "available",
    "folds",
    "load",
    "parse",
    "words",
]

FLAG_CODES: tuple[str, ...] = ("threat", "whereabouts", "sexual", "self_harm", "weapon")

GAP_WORDS = 3  # "..." stands for up to this many words
MIN_PREFIX = 2  # a prefix word ("kill*") needs at least this many letters before the star
MAX_CHOICES = 2000  # phrases one bracket may stand for, once word sets are spelt out

_KNOWN_LIMIT = 200_000  # words scan remembers what the lexicon says about

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


class _Token(NamedTuple):
    # A named tuple rather than a dataclass: scanning makes one per word, and this is cheaper.
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
    """How SQLite's unicode61 tokenizer treats each character: a separator (None) or part of a
    word, folded to the returned text (which may be empty, for an accent that is removed).
    ASCII is known from the start; other characters are learnt by asking SQLite, once per
    character, and remembered. ``table`` holds the same knowledge for ``str.translate``: a
    separator becomes a space, a word character its folded text."""

    def __init__(self) -> None:
        self._known: dict[str, str | None] = {chr(i): _ASCII_FOLD[i] for i in range(128)}
        self.table: dict[int, str] = {}
        for i, folded in enumerate(_ASCII_FOLD):
            if folded != chr(i):
                self.table[i] = " " if folded is None else folded
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def get(self, ch: str) -> str | None:
        return self._known[ch]

    def learn(self, chars: Iterable[str]) -> None:
        unknown = set(chars).difference(self._known)
        if not unknown:
            return
        with self._lock:
            unknown = unknown.difference(self._known)
            if unknown:
                learnt = self._ask_sqlite(unknown)
                # the translation table first: a character is only ever looked up there once
                # it is known
                self.table.update(
                    (ord(ch), " " if folded is None else folded) for ch, folded in learnt.items()
                )
                self._known.update(learnt)

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
    _CHARS.learn(text)
    tokens: list[_Token] = []
    start = -1
    parts: list[str] = []
    for i, ch in enumerate(text):
        folded = _CHARS.get(ch)
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


def words(text: str) -> list[str]:
    """The words of ``text`` as the diary's FTS5 index finds them, folded (lower case, accents
    removed), in order."""
    return [t.folded for t in _tokenize(text)]


def folds(chars: Iterable[str]) -> dict[str, str | None]:
    """How FTS5 treats each character: None for a separator, else its folded text (empty for
    a mark it drops, as it drops accents)."""
    chars = list(chars)
    _CHARS.learn(chars)
    return {ch: _CHARS.get(ch) for ch in chars}


def _fold(text: str) -> str:
    """``text`` with each word folded as the tokenizer folds it and every separator turned
    into a space: ``_fold(text).split()`` is the folded words of :func:`_tokenize`, found much
    faster (offsets are not kept)."""
    if not text.isascii():
        _CHARS.learn(text)
    return text.translate(_CHARS.table)


# --- how common a word is -------------------------------------------------------------------

# Rough shares of everyday messages that hold a word: for the lexicon's common words by rank
# (the first is in about a quarter of messages), and for other words by length. They only
# steer which words the index is asked for; any choice finds every match.
_COMMON_TOP = 0.25
_COMMON_HALVING = 8  # the share halves by this rank, and keeps falling after
_DIGITS = 0.05
_PLAIN_BY_LENGTH = (0.005, 0.001, 0.0002, 0.00005, 0.00002, 0.00001)
# A word start stands for every word that starts so: short starts stand for many.
_STEM_SPREAD_BY_LENGTH = (30.0, 30.0, 10.0, 5.0, 4.0, 3.0)


class _Rarity:
    """How often words turn up in everyday messages, roughly, from the lexicon's list of its
    language's common words (most common first) and from word length."""

    def __init__(self, common: Sequence[str]) -> None:
        self._rank: dict[str, int] = {}
        for rank, word in enumerate(common):
            self._rank.setdefault(word, rank)
        self._sorted = sorted(self._rank)
        self._shares: dict[tuple[str, bool], float] = {}

    def share(self, word: _Word) -> float:
        """Roughly, the share of everyday messages that have ``word`` (or, for a word start,
        a word that starts so)."""
        share = self._shares.get((word.folded, word.prefix))
        if share is None:
            share = self._stem(word.folded) if word.prefix else self._word(word.folded)
            self._shares[(word.folded, word.prefix)] = share
        return share

    def common(self, word: _Word) -> bool:
        """Whether ``word`` is, or (for a word start) stands for, a common word or a number."""
        if word.prefix:
            return bool(self.common_starting(word.folded))
        return word.folded in self._rank or word.folded.isdigit()

    def common_starting(self, stem: str) -> set[str]:
        """The common words that start with ``stem``."""
        found: set[str] = set()
        i = bisect.bisect_left(self._sorted, stem)
        while i < len(self._sorted) and self._sorted[i].startswith(stem):
            found.add(self._sorted[i])
            i += 1
        return found

    def _word(self, folded: str) -> float:
        rank = self._rank.get(folded)
        if rank is not None:
            return _COMMON_TOP / (1 + rank / _COMMON_HALVING)
        if folded.isdigit():
            return _DIGITS
        return _PLAIN_BY_LENGTH[min(len(folded), len(_PLAIN_BY_LENGTH)) - 1]

    def _stem(self, folded: str) -> float:
        n = min(len(folded), len(_PLAIN_BY_LENGTH)) - 1
        share = _PLAIN_BY_LENGTH[n] * _STEM_SPREAD_BY_LENGTH[n]
        # and the common words it stands for
        return share + sum(self._word(w) for w in self.common_starting(folded))


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
class _Need:
    """What a text must have for one place in a pattern to be filled: the words of one of
    the place's choices. Each choice is stood for by one of its words (its term), so a text
    the pattern matches has at least one of the terms."""

    # every choice's distinct words, its term first, then least common first
    choices: tuple[tuple[_Word, ...], ...]
    terms: tuple[_Word, ...]  # the choices' first words, without repeats
    keys: frozenset[str]  # the terms as keys: "kill" for a word, "kill*" for a word start
    share: float  # roughly, the share of everyday messages that have one of the terms
    common: bool  # whether a term is a common word (or the start of one), or a number


@dataclass(frozen=True)
class _Pattern:
    source: str
    expression: str  # the regular expression, compiled the first time a text may match
    slots: tuple[_Slot, ...]
    # One need for each place that must be filled (not optional, not a gap): any text the
    # pattern matches has a word from each. Checked before the regular expression is run.
    needs: tuple[_Need, ...]
    anchor: _Need  # the need that everyday messages meet least often

    @cached_property
    def regex(self) -> re.Pattern[str]:
        # Compiling every pattern when a lexicon loads took about a second, which every
        # import (the flags of its messages are kept) would pay; most are never run.
        return re.compile(self.expression)


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


def _compile(
    source: str,
    sets: dict[str, tuple[tuple[_Word, ...], ...]],
    rarity: _Rarity,
    needs_of: dict[_Slot, _Need],
) -> _Pattern:
    """A pattern, compiled. ``needs_of`` remembers the need of each slot met so far (word
    sets make many slots alike)."""
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
    needed = [s for s in slots if not s.optional and not s.gap]
    for slot in needed:
        if slot not in needs_of:
            needs_of[slot] = _need(slot, rarity)
    needs = tuple(needs_of[s] for s in needed)
    return _Pattern(
        source=source,
        expression="(?<![^ ])" + _guard(slots) + "".join(_slot_regex(s) for s in slots),
        slots=tuple(slots),
        needs=needs,
        # the first of the least common, where two are alike
        anchor=min(needs, key=lambda need: (need.common, need.share)),
    )


def _need(slot: _Slot, rarity: _Rarity) -> _Need:
    """What a text must have for ``slot`` to be filled (a choice of several words is only
    there if all of them are)."""
    choices: dict[tuple[str, ...], tuple[_Word, ...]] = {}
    for choice in slot.choices:
        distinct: dict[str, _Word] = {}
        for word in choice:
            distinct.setdefault(_key(word), word)
        ordered = tuple(sorted(distinct.values(), key=rarity.share))
        choices.setdefault(tuple(_key(w) for w in ordered), ordered)
    # Each choice is stood for by one of its words, put first: by one that a term stands for
    # already, where it has one ("the pair of you" by "you", when "you" is a choice too, or
    # "killing you" by "killing", when "kill*" is), else by its least common word, which
    # becomes a term. Single words first, then longer choices.
    terms: dict[str, _Word] = {}
    by_length = sorted(choices.values(), key=len)
    for i, ordered in enumerate(by_length):
        known = [w for w in ordered if _key(w) in terms or _covers(terms, w)]
        if known:
            by_length[i] = (known[0], *(w for w in ordered if w is not known[0]))
        else:
            terms[_key(ordered[0])] = ordered[0]
    choices = {tuple(_key(w) for w in ordered): ordered for ordered in by_length}
    return _Need(
        choices=tuple(choices.values()),
        terms=tuple(terms.values()),
        keys=frozenset(terms),
        share=sum(rarity.share(w) for w in terms.values()),
        common=any(rarity.common(w) for w in terms.values()),
    )


def _key(word: _Word) -> str:
    return word.folded + ("*" if word.prefix else "")


def _covers(terms: dict[str, _Word], word: _Word) -> bool:
    """Whether a word start among ``terms`` stands for ``word`` too."""
    return any(t.prefix and word.folded.startswith(t.folded) for t in terms.values())


def _word_regex(word: _Word) -> str:
    return re.escape(word.folded) + ("[^ ]*" if word.prefix else "")


def _guard(slots: list[_Slot]) -> str:
    """A look-ahead for the words a match can start with, as one tree of letters: it changes
    nothing the pattern matches, but skips quickly over the places where it cannot start
    (trying a long list of choices one by one, at every word, is slow)."""
    words: set[str] = set()
    stems: set[str] = set()
    for slot in slots:
        for choice in slot.choices:
            (stems if choice[0].prefix else words).add(choice[0].folded)
        if not slot.optional:
            break
    branches = []
    if words:
        branches.append(f"(?:{_trie(words)}) ")
    if stems:
        branches.append(_trie(stems))
    return "(?=" + "|".join(branches) + ")"


def _slot_regex(slot: _Slot) -> str:
    # The text is matched as its folded words, each followed by one space ("i ll kill you ").
    if slot.gap:
        return f"(?:[^ ]+ ){{0,{GAP_WORDS}}}"
    choices = "|".join(" ".join(_word_regex(w) for w in seq) for seq in slot.choices)
    return f"(?:(?:{choices}) )" + ("?" if slot.optional else "")


# --- the FTS5 candidate query ---------------------------------------------------------------
#
# Every text a pattern matches has a word from each of its needs, so asking the index for any
# one need's words finds them all. Which need to ask for is a matter of cost, in milliseconds
# for a diary of a million messages (measured on one, encrypted; warm):
# - each word asked for is looked up in every part of the index: about 0.45 ms, or 1.2 ms for
#   a word start longer than the index keeps ready-made (three letters);
# - the entries read for a word: about 0.14 µs for each message that has it;
# - each message the index returns is fetched and scanned: about 50 µs.
# So a common word is cheap to look up but brings up a large share of all messages. Where
# every need of a pattern has common words ("I saw your post"), the pattern asks for its
# common words only together (AND) with those of another need, and for its other words alone.
_LOOKUP = 0.45
_LOOKUP_LONG_STEM = 1.2
_READ = 140.0  # per whole share of the diary's messages
_FETCH = 50_000.0
_TOGETHER = 2.0  # two words of one rule share a message this much more often than by chance
_INDEX_STEMS = 3  # the index keeps word starts of two and three letters ready-made

_Keys = frozenset[str]


@dataclass(frozen=True)
class _Option:
    """One way for a pattern to ask the index for its candidates: texts with any word in
    ``alone``, and texts with a word of ``a`` and one of ``b``, for each (a, b) in ``both``."""

    alone: _Keys
    both: tuple[tuple[_Keys, _Keys], ...]


class _Planner:
    """Chooses, for each pattern, the cheapest way to ask the index for a superset of the
    texts it matches, counting a word that another pattern asks for already as free; and
    writes the FTS5 query."""

    def __init__(self, patterns: Sequence[_Pattern], rarity: _Rarity) -> None:
        self._rarity = rarity
        self._words: dict[str, _Word] = {}
        self._shares: dict[_Keys, float] = {}
        self._options = [self._options_for(p) for p in patterns]

    def queries(self) -> tuple[str, tuple[str, ...]]:
        """The query, written for FTS5 (a MATCH expression) and for PostgreSQL (the operands
        of a tsquery's OR)."""
        parts = self._parts()
        fts = " OR ".join(
            self._fts(p)
            if isinstance(p, _Word)
            # AND binds more tightly than OR in FTS5: "x OR (a OR b) AND c OR y"
            else f"{self._fts_any(p[0])} AND {self._fts_any(p[1])}"
            for p in parts
        )
        # A word that starts with a word start asked for alone adds nothing, nor does a pair
        # with such a side.
        alone = _reduced(p for p in parts if isinstance(p, _Word))
        stems = tuple(w.folded for w in alone if w.prefix)
        ts = [_ts(w) for w in alone]
        for p in parts:
            if isinstance(p, _Word):
                continue
            sides = [_reduced(side) for side in p]
            if not any(all(w.folded.startswith(stems) for w in side) for side in sides):
                ts.append(f"{_ts_any(sides[0])} & {_ts_any(sides[1])}")
        return fts, tuple(ts)

    def _parts(self) -> list[_Word | tuple[list[_Word], list[_Word]]]:
        """What to ask the index for: the OR of these words, and of these pairs of word lists
        (a word of the first list AND one of the second)."""
        chosen = self._choose()
        alone: set[str] = set()
        for option in chosen:
            alone |= option.alone
        short = self._shorten(alone)
        stems = tuple(k[:-1] for k in short if k.endswith("*"))

        def found(keys: _Keys) -> bool:  # every text with one of keys is found already
            return all(k in short or _folded(k).startswith(stems) for k in keys)

        groups = [
            (set(a), set(b))
            for option in chosen
            for a, b in option.both
            if not (found(a) or found(b))
        ]
        parts: list[_Word | tuple[list[_Word], list[_Word]]] = [short[k] for k in sorted(short)]
        for a, b in _joined(groups):
            parts.append((self._any(a), self._any(b)))
        return parts

    # -- options and their cost

    def _key(self, word: _Word) -> str:
        key = _key(word)
        self._words.setdefault(key, word)
        return key

    def _common(self, key: str) -> bool:
        return self._rarity.common(self._words[key])

    def _options_for(self, pattern: _Pattern) -> list[_Option]:
        options: list[_Option] = []
        for need in pattern.needs:
            alone: set[str] = set()
            both: list[tuple[_Keys, _Keys]] = []
            for choice in need.choices:
                first = self._key(choice[0])
                if len(choice) > 1 and self._common(first):
                    both.append((frozenset([first]), frozenset([self._key(choice[1])])))
                else:
                    alone.add(first)
            options.append(_Option(frozenset(alone), tuple(both)))
        for one, other in itertools.combinations(pattern.needs, 2):
            keys = [{self._key(w) for w in need.terms} for need in (one, other)]
            common = [{k for k in side if self._common(k)} for side in keys]
            if common[0] and common[1]:
                rare = (keys[0] - common[0]) | (keys[1] - common[1])
                options.append(
                    _Option(frozenset(rare), ((frozenset(common[0]), frozenset(common[1])),))
                )
        return options

    def _share(self, keys: _Keys) -> float:
        share = self._shares.get(keys)
        if share is None:
            share = self._shares[keys] = sum(self._rarity.share(self._words[k]) for k in keys)
        return share

    def _lookups(self, keys: Iterable[str]) -> float:
        return sum(
            _LOOKUP_LONG_STEM if k.endswith("*") and len(k) > _INDEX_STEMS + 1 else _LOOKUP
            for k in keys
        )

    def _cost(self, option: _Option, asked: Counter[str], sides: Counter[_Keys]) -> float:
        """What ``option`` adds to the cost of the query, given the words other patterns ask
        for alone (``asked``) and the sides of their pairs (``sides``: a pair with the same
        side as another is joined with it, so that side is looked up and read once)."""
        new = frozenset(k for k in option.alone if not asked[k])
        cost = self._lookups(new) + self._share(new) * (_READ + _FETCH)
        for a, b in option.both:
            if all(asked[k] for k in a) or all(asked[k] for k in b):
                continue
            sa, sb = self._share(a), self._share(b)
            for side, share in ((a, sa), (b, sb)):
                if not sides[side]:
                    cost += self._lookups(side) + share * _READ
            cost += min(sa, sb, sa * sb * _TOGETHER) * _FETCH
        return cost

    def _choose(self) -> list[_Option]:
        """Each pattern's cheapest option, given what the others ask for (a few rounds)."""
        asked: Counter[str] = Counter()
        sides: Counter[_Keys] = Counter()

        def add(option: _Option, sign: int) -> None:
            for key in option.alone:
                asked[key] += sign
            for a, b in option.both:
                sides[a] += sign
                sides[b] += sign

        chosen: list[_Option] = []
        for options in self._options:
            chosen.append(min(options, key=lambda o: self._cost(o, asked, sides)))
            add(chosen[-1], 1)
        for _ in range(4):
            changed = False
            for i, options in enumerate(self._options):
                add(chosen[i], -1)
                best = min(options, key=lambda o: self._cost(o, asked, sides))
                changed |= best is not chosen[i]
                chosen[i] = best
                add(best, 1)
            if not changed:
                break
        return chosen

    # -- writing the query

    def _shorten(self, keys: Iterable[str]) -> dict[str, _Word]:
        """The words to ask for ``keys``: words that share a start of four letters or more
        ("knife", "knifed", "knifing") become that start ("knif*") where it costs fewer
        look-ups and stands for no common word that is not among them."""
        out: dict[str, _Word] = {}
        families: dict[str, list[str]] = {}
        for key in _without_covered(keys):
            folded = _folded(key)
            if len(folded) > _INDEX_STEMS:
                families.setdefault(folded[: _INDEX_STEMS + 1], []).append(key)
            else:
                out[key] = self._words[key]
        for family in families.values():
            allowed = {_folded(k) for k in family}
            stem = _common_start(allowed)
            saving = self._lookups(family) - self._lookups([stem + "*"])
            if saving > -_LOOKUP and self._rarity.common_starting(stem) <= allowed:
                out[stem + "*"] = _Word(raw=stem, folded=stem, prefix=True)
            else:
                out.update((k, self._words[k]) for k in family)
        return out

    def _any(self, keys: Iterable[str]) -> list[_Word]:
        """The words to ask for any of ``keys``."""
        short = self._shorten(keys)
        return [short[k] for k in sorted(short)]

    def _fts_any(self, words: list[_Word]) -> str:
        """Any of ``words``: one word bare, several in brackets."""
        joined = " OR ".join(self._fts(w) for w in words)
        return joined if len(words) == 1 else f"({joined})"

    @staticmethod
    def _fts(word: _Word) -> str:
        """One word for an FTS5 query: bare where FTS5 reads it as a plain word, else quoted."""
        if _FTS_BAREWORD.fullmatch(word.folded) and word.folded not in _FTS_KEYWORDS:
            text = word.folded
        else:
            text = '"' + word.raw.replace('"', '""') + '"'
        return text + ("*" if word.prefix else "")


_FTS_BAREWORD = re.compile(r"[a-z0-9]+")
_FTS_KEYWORDS = {"and", "or", "not", "near"}


def _ts(word: _Word) -> str:
    """One word for a PostgreSQL tsquery: its folded form, and ``:*`` for a word start."""
    text = "'" + word.folded.replace("\\", "\\\\").replace("'", "''") + "'"
    return text + (":*" if word.prefix else "")


def _ts_any(words: list[_Word]) -> str:
    joined = " | ".join(_ts(w) for w in words)
    return joined if len(words) == 1 else f"( {joined} )"


def _reduced(words: Iterable[_Word]) -> list[_Word]:
    """The words less those another of them stands for (a word, or a word start, that starts
    with a word start among them), in order of their folded form."""
    unique = {(w.folded, w.prefix): w for w in words}
    stems: list[str] = []
    for folded, _ in sorted((k for k in unique if k[1]), key=lambda k: (len(k[0]), k[0])):
        if not folded.startswith(tuple(stems)):
            stems.append(folded)
    covered = tuple(stems)
    kept = [
        w
        for (folded, prefix), w in unique.items()
        if (prefix and folded in stems) or (not prefix and not folded.startswith(covered))
    ]
    return sorted(kept, key=lambda w: (w.folded, w.prefix))


def _folded(key: str) -> str:
    return key[:-1] if key.endswith("*") else key


def _common_start(words: Iterable[str]) -> str:
    """The longest start that all of ``words`` (at least one) share."""
    first, last = min(words), max(words)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _joined(groups: list[tuple[set[str], set[str]]]) -> list[tuple[set[str], set[str]]]:
    """The same pairs, joined where one side is the same: (A AND B) OR (A AND C) is
    A AND (B OR C), so that each word is looked up once rather than once for each pair."""
    for _ in range(len(groups)):
        before = len(groups)
        for side in (0, 1):
            joined: dict[_Keys, tuple[set[str], set[str]]] = {}
            for group in groups:
                key = frozenset(group[side])
                if key in joined:
                    joined[key][1 - side].update(group[1 - side])
                else:
                    joined[key] = (set(group[0]), set(group[1]))
            groups = list(joined.values())
        if len(groups) == before:
            break
    return sorted(groups, key=lambda g: (sorted(g[0]), sorted(g[1])))


def _without_covered(keys: Iterable[str]) -> list[str]:
    """Word keys ("kill", "kill*") without those another of them already stands for: "killer"
    and "killi*" go when "kill*" is there."""
    keys = set(keys)
    stems: list[str] = []
    for stem in sorted({k[:-1] for k in keys if k.endswith("*")}, key=len):
        if not any(stem.startswith(shorter) for shorter in stems):
            stems.append(stem)
    words = {k for k in keys if not k.endswith("*") and not k.startswith(tuple(stems))}
    return sorted(words | {stem + "*" for stem in stems})


def _trie(words: Iterable[str]) -> str:
    """A regular expression for any of ``words`` (at least one), written as a tree of their
    shared beginnings, so that it is tried one character at a time rather than word by word."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return (body if len(branches) == 1 and len(body) == 1 else f"(?:{body})") + "?"
        return body

    return build(root)


def _gate(keys: Iterable[str]) -> re.Pattern[str]:
    """One regular expression that finds, in a folded text (:func:`_fold`), any of the words
    and word starts in ``keys``."""
    words = [k for k in keys if not k.endswith("*")]
    stems = [k[:-1] for k in keys if k.endswith("*")]
    branches = []
    if words:
        branches.append(f"(?:{_trie(words)})(?![^ ])")
    if stems:
        branches.append(_trie(stems))
    if not branches:  # pragma: no cover - every lexicon has at least one rule
        return re.compile("(?!)")
    return re.compile("(?<![^ ])(?:" + "|".join(branches) + ")")


# --- scanning -------------------------------------------------------------------------------


class _Text:
    """A text prepared for matching: its words, folded and joined by single spaces; where each
    word is in the text is only worked out once a rule matches."""

    __slots__ = ("_found", "_spans", "_starts", "joined", "text", "words")

    def __init__(self, text: str, words: list[str]) -> None:
        self.text = text
        self.words = words
        self.joined = " ".join(words) + " "
        self._starts: list[int] | None = None  # where each word starts in joined
        self._spans: list[tuple[int, int]] | None = None
        self._found: dict[int, list[tuple[int, int]]] = {}

    def find(self, pattern: _Pattern) -> list[tuple[int, int]]:
        """Where ``pattern`` matches, as (first word, last word) indexes."""
        spans = self._found.get(id(pattern))
        if spans is None:
            spans = []
            for m in pattern.regex.finditer(self.joined):
                starts = self._starts
                if starts is None:
                    starts = self._starts = list(
                        itertools.accumulate((len(w) + 1 for w in self.words[:-1]), initial=0)
                    )
                first = bisect.bisect_left(starts, m.start())
                last = bisect.bisect_right(starts, m.end() - 1) - 1
                spans.append((first, last))
            self._found[id(pattern)] = spans
        return spans

    def offsets(self, first: int, last: int) -> tuple[int, int]:
        """Where words ``first`` to ``last`` are in the text, as character offsets."""
        if self._spans is None:
            if self.text.isascii():
                self._spans = [m.span() for m in _ASCII_WORD.finditer(self.text)]
            else:
                self._spans = [(t.start, t.end) for t in _tokenize(self.text)]
        return self._spans[first][0], self._spans[last][1]


# A rule or an exclusion in the index: its flag's position, its own position among the flag's
# rules or exclusions, and the keys of each of its needs.
_Entry = tuple[int, int, tuple[frozenset[str], ...]]
_About = tuple[frozenset[str], tuple[_Entry, ...], tuple[_Entry, ...]]
_NOTHING: _About = (frozenset(), (), ())


_in_text_order = operator.itemgetter(0, 1)


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
    _tsquery: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # word (or "stem*") -> the rules, and the exclusions, whose anchor has it
    _index: dict[str, tuple[tuple[_Entry, ...], tuple[_Entry, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # the words and word starts any need of any pattern asks for, and the lengths of the starts
    _keys: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _stem_lengths: tuple[int, ...] = field(default=(), repr=False, compare=False)
    # the starts of the keys, cut to MIN_PREFIX letters (a key may be shorter)
    _heads: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    # finds a word that is, or starts with, an anchor word of a rule
    _gate: re.Pattern[str] = field(default=re.compile("(?!)"), repr=False, compare=False)
    # word of a text -> the keys it stands for (itself, and starts of it, among _keys), and
    # the rules and exclusions whose anchor has one of them
    _known: dict[str, _About] = field(default_factory=dict, repr=False, compare=False)

    def scan(self, text: str) -> list[Match]:
        """Every place a rule matches, in text order; within one flag, matches do not overlap
        (where two would, the one that starts first wins, then the longer one)."""
        folded = _fold(text)
        if self._gate.search(folded) is None:
            return []  # no rule's anchor is here, so no rule can match
        words = folded.split()
        found: set[str] = set()  # the words and word starts the lexicon asks for
        wanted: set[_Entry] = set()  # the rules whose anchor is here
        vetoes: set[_Entry] = set()  # the exclusions whose anchor is here
        known = self._known
        for word in set(words):
            about = known.get(word)
            if about is None:
                about = self._learn(word)
            if about[0]:
                found.update(about[0])
                if about[1]:
                    wanted.update(about[1])
                if about[2]:
                    vetoes.update(about[2])
        # A rule or an exclusion can only match where the text has a word for each of its
        # needs: the others are not tried.
        rules: dict[int, list[int]] = {}
        for order, position, needs in sorted(wanted):
            for keys in needs:
                if keys.isdisjoint(found):
                    break
            else:
                rules.setdefault(order, []).append(position)
        if not rules:
            return []
        exclude: dict[int, list[_Pattern]] = {}
        for order, position, needs in sorted(vetoes):
            if order in rules:
                for keys in needs:
                    if keys.isdisjoint(found):
                        break
                else:
                    exclude.setdefault(order, []).append(self._flags[order].exclude[position])
        return self._matches(_Text(text, words), rules, exclude, found)

    def _learn(self, word: str) -> _About:
        """What the lexicon has to say about ``word``, worked out once and remembered (a word
        that no key starts like, such as most numbers, is not remembered)."""
        if word[:MIN_PREFIX] not in self._heads:
            return _NOTHING
        keys = {word} & self._keys
        for n in self._stem_lengths:
            if n > len(word):
                break
            if word[:n] + "*" in self._keys:
                keys.add(word[:n] + "*")
        rules: set[_Entry] = set()
        vetoes: set[_Entry] = set()
        for key in keys:
            entries = self._index.get(key)
            if entries is not None:
                rules.update(entries[0])
                vetoes.update(entries[1])
        about = (frozenset(keys), tuple(rules), tuple(vetoes))
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()  # a rough bound on memory: words are learnt again
        self._known[word] = about
        return about

    def _scan_every_rule(self, text: str) -> list[Match]:
        """What :meth:`scan` finds, found the slow way: every rule and exclusion is run on the
        text, with no shortcut. Kept so that the tests can check the shortcuts drop nothing."""
        rules = {order: list(range(len(flag.rules))) for order, flag in enumerate(self._flags)}
        exclude = {order: list(flag.exclude) for order, flag in enumerate(self._flags)}
        return self._matches(_Text(text, _fold(text).split()), rules, exclude, None)

    def _matches(
        self,
        prepared: _Text,
        rules: dict[int, list[int]],
        exclude: dict[int, list[_Pattern]],
        found: set[str] | None,
    ) -> list[Match]:
        """The matches of the given rules (flag position -> rule positions, in order), less
        those that the given exclusions (flag position -> patterns) or the rules' own veto.
        Given the lexicon words the text has (``found``), a rule's own exclusion is only
        tried where the text has a word for each of its needs."""
        out: list[tuple[int, int, Match]] = []
        for order, positions in rules.items():
            flag = self._flags[order]
            candidates: list[tuple[int, int, int]] = []
            for index in positions:
                for first, last in prepared.find(flag.rules[index].pattern):
                    candidates.append((first, first - last, index))
            if not candidates:
                continue
            candidates.sort()
            taken: list[tuple[int, int]] = []
            vetoes = exclude.get(order, [])
            for first, negative_length, index in candidates:
                rule = flag.rules[index]
                span = (first, first - negative_length)
                if taken and _overlaps(span, taken):
                    continue
                if vetoes and any(_overlaps(span, prepared.find(p)) for p in vetoes):
                    continue
                if rule.unless and any(
                    _overlaps(span, prepared.find(p))
                    for p in rule.unless
                    if found is None or all(not n.keys.isdisjoint(found) for n in p.needs)
                ):
                    continue
                taken.append(span)
                start, end = prepared.offsets(*span)
                match = Match(
                    flag=flag.code,
                    label=flag.label,
                    words=prepared.text[start:end],
                    start=start,
                    end=end,
                    rule=rule.pattern.source,
                )
                out.append((start, order, match))
        if len(out) > 1:
            out.sort(key=_in_text_order)
        return [m for _, _, m in out]

    def flags(self, text: str) -> set[str]:
        return {m.flag for m in self.scan(text)}

    def fts_query(self) -> str:
        """An SQLite FTS5 MATCH expression that finds every text :meth:`scan` could match
        (and some it will not): ask the index with it, then scan only what it returns. It is
        the OR of every rule's anchor words (see the module's description)."""
        return self._fts

    def tsquery(self) -> str:
        """The same query for PostgreSQL's full-text search, a tsquery (``'acid' | 'ammo':* |
        …``): among the texts PostgreSQL's parser reads as FTS5 does, it finds those
        :meth:`fts_query` finds. Texts the parser may read differently are for the caller to
        add (see :func:`docket.search.differs`)."""
        return " | ".join(self._tsquery)

    def tsquery_parts(self) -> tuple[str, ...]:
        """The operands of :meth:`tsquery`'s OR, for asking the index in parts: PostgreSQL's
        GIN index checks every operand of a query for every text it holds a word of, so one
        query of a thousand words costs far more than fifty of twenty."""
        return self._tsquery

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
_LEXICON_KEYS = {"language", "name", "common"}
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
    stray = set(head) - _LEXICON_KEYS
    if stray:
        raise fail(
            "unknown key " + ", ".join(sorted(map(repr, stray))),
            "lexicon",
            hint="[lexicon] has language, name and common.",
        )
    name = head.get("name", language)
    if not isinstance(name, str):
        raise fail("the name must be text", "lexicon.name")
    raw_common = head.get("common", [])
    if not isinstance(raw_common, list):
        raise fail("common must be a list of words", "lexicon.common")
    common: list[str] = []
    for i, word in enumerate(raw_common):
        tokens = _tokenize(word) if isinstance(word, str) else []
        if len(tokens) != 1 or tokens[0].start != 0 or tokens[0].end != len(word):
            raise fail(
                f"{word!r} — a common word must be one word, of letters and digits only",
                f"lexicon.common[{i}]",
            )
        common.append(tokens[0].folded)
    rarity = _Rarity(common)
    needs_of: dict[_Slot, _Need] = {}

    def compile_one(source: object, record: str) -> _Pattern:
        if not isinstance(source, str):
            raise fail("a pattern must be text", record)
        try:
            return _compile(source, sets, rarity, needs_of)
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
    if version is None:
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    # Each rule's anchor words: scan runs a rule only on a text that has one, and the search
    # index is asked for them (or, where they are common, for them together with others).
    # Exclusions have anchors too, so that scan only tries those that could match.
    index: dict[str, tuple[list[_Entry], list[_Entry]]] = {}
    keys: set[str] = set()
    for f_pos, flag in enumerate(flags):
        for side, patterns in enumerate(([r.pattern for r in flag.rules], flag.exclude)):
            for position, pattern in enumerate(patterns):
                entry = (f_pos, position, tuple(n.keys for n in pattern.needs))
                for key in pattern.anchor.keys:
                    index.setdefault(key, ([], []))[side].append(entry)
        for pattern in (*(r.pattern for r in flag.rules), *flag.exclude):
            keys.update(*(n.keys for n in pattern.needs))
        for rule in flag.rules:
            for pattern in rule.unless:
                keys.update(*(n.keys for n in pattern.needs))
    fts, tsquery = _Planner(
        [rule.pattern for flag in flags for rule in flag.rules], rarity
    ).queries()
    return Lexicon(
        language=language,
        version=version,
        name=name,
        _flags=tuple(flags),
        _fts=fts,
        _tsquery=tsquery,
        _index={k: (tuple(v[0]), tuple(v[1])) for k, v in index.items()},
        _keys=frozenset(keys),
        _heads=frozenset(_folded(k)[:MIN_PREFIX] for k in keys),
        _stem_lengths=tuple(sorted({len(k) - 1 for k in keys if k.endswith("*")})),
        _gate=_gate(_without_covered([k for k, v in index.items() if v[0]])),
    )
