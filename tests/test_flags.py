"""Tests for docket.flags: measured precision and recall on the hand-labelled set, the FTS5
candidate query finding every text the rules match (and staying compact), scan's shortcuts
finding exactly what running every rule finds, words shown exactly as written, exclusions,
clear errors for bad lexicons and unknown languages, and honest wording."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import sqlite3
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket import flags
from docket.errors import InputError, UnknownChoice

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "fixtures" / "flags" / "labelled-en.jsonl"
DOCS = ROOT / "docs" / "language-flags.md"
TOKENIZE = "unicode61 remove_diacritics 2"

# Floors the English rules meet on the whole labelled set (measured figures are printed by
# test_precision_and_recall; run pytest -s). The set was used to write the rules, so these are
# not what to expect on new messages: see docs/language-flags.md for the held-out figures.
FLOOR_OVERALL_PRECISION = 0.95
FLOOR_OVERALL_RECALL = 0.88
FLOOR_FLAG_PRECISION = 0.90
FLOOR_FLAG_RECALL = 0.85
# The candidate query (Lexicon.fts_query) must stay well under the old 84 KB of phrases; see
# docs/language-flags.md, "Speed", for why it is not smaller still.
FTS_QUERY_LIMIT = 16_000


def _rows() -> list[dict[str, Any]]:
    with LABELLED.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _en_data() -> dict[str, Any]:
    raw = resources.files("docket.flags").joinpath("en.toml").read_bytes()
    return tomllib.loads(raw.decode("utf-8"))


def _without_exclusions(data: dict[str, Any]) -> dict[str, Any]:
    """The same rules with every exclusion taken out."""
    out = copy.deepcopy(data)
    for spec in out["flags"].values():
        spec.pop("exclude", None)
        spec["rules"] = [r["pattern"] if isinstance(r, dict) else r for r in spec["rules"]]
    return out


@pytest.fixture(scope="module")
def en() -> flags.Lexicon:
    return flags.load("en")


@pytest.fixture(scope="module")
def bare() -> flags.Lexicon:
    """English with no exclusions: what the FTS query must find a superset of."""
    return flags.parse("en", _without_exclusions(_en_data()))


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    """One FTS5 table like the diary's; each use empties it first."""
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize='{TOKENIZE}', prefix='2 3')")
    conn.execute("CREATE VIRTUAL TABLE t_terms USING fts5vocab(t, 'instance')")
    yield conn
    conn.close()


def _fts_hits(conn: sqlite3.Connection, texts: list[str], query: str) -> set[int]:
    conn.execute("DELETE FROM t")
    conn.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)", list(enumerate(texts)))
    return {r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,))}


# --- the labelled set -----------------------------------------------------------------------


def test_labelled_set_is_usable() -> None:
    rows = _rows()
    assert len(rows) >= 320
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts), "a text is listed twice"
    for r in rows:
        assert set(r) <= {"text", "flags", "note", "split"}, r
        assert isinstance(r["text"], str) and r["text"].strip()
        assert set(r["flags"]) <= set(flags.FLAG_CODES), r
        assert r.get("split", "dev") in {"dev", "held-out", "held-out-2", "held-out-3"}
    unflagged = sum(1 for r in rows if not r["flags"])
    assert 0.35 <= unflagged / len(rows) <= 0.65, "about half the messages should have no flag"
    for code in flags.FLAG_CODES:
        assert sum(code in r["flags"] for r in rows) >= 40, code
    assert sum(len(r["flags"]) > 1 for r in rows) >= 20, "multi-flag messages"
    assert any("’" in t for t in texts), "curly apostrophes"
    assert any(t.isupper() for t in texts if any(c.isalpha() for c in t)), "capitals"
    assert any(re.search(r"\b(ur|u|gonna|ima|imma)\b", t) for t in texts), "text-speak"


def _measure(
    en: flags.Lexicon, rows: list[dict[str, Any]]
) -> tuple[dict[str, tuple[int, int, int]], tuple[int, int, int]]:
    counts = {code: [0, 0, 0] for code in flags.FLAG_CODES}  # true pos, false pos, false neg
    for r in rows:
        got = en.flags(r["text"])
        want = set(r["flags"])
        for code in flags.FLAG_CODES:
            if code in got and code in want:
                counts[code][0] += 1
            elif code in got:
                counts[code][1] += 1
            elif code in want:
                counts[code][2] += 1
    per = {c: (v[0], v[1], v[2]) for c, v in counts.items()}
    total = tuple(sum(v[i] for v in counts.values()) for i in range(3))
    return per, (total[0], total[1], total[2])


def _pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def test_precision_and_recall(en: flags.Lexicon) -> None:
    rows = _rows()
    per, total = _measure(en, rows)
    print(f"\nLanguage flags ({en.language}, lexicon {en.version}) on {len(rows)} messages")
    print(f"{'flag':<12} {'precision':>9} {'recall':>7}   tp  fp  fn")
    for code in flags.FLAG_CODES:
        tp, fp, fn = per[code]
        p, r = _pr(tp, fp, fn)
        print(f"{code:<12} {p:9.3f} {r:7.3f}  {tp:3} {fp:3} {fn:3}")
    p_all, r_all = _pr(*total)
    print(f"{'overall':<12} {p_all:9.3f} {r_all:7.3f}  {total[0]:3} {total[1]:3} {total[2]:3}")
    for split in ("dev", "held-out", "held-out-2", "held-out-3"):
        subset = [r for r in rows if r.get("split", "dev") == split]
        p, r = _pr(*_measure(en, subset)[1])
        print(f"  {split:<11} {len(subset):4} messages: precision {p:.3f}, recall {r:.3f}")

    assert p_all >= FLOOR_OVERALL_PRECISION
    assert r_all >= FLOOR_OVERALL_RECALL
    for code in flags.FLAG_CODES:
        p, r = _pr(*per[code])
        assert p >= FLOOR_FLAG_PRECISION, f"{code} precision {p:.3f}"
        assert r >= FLOOR_FLAG_RECALL, f"{code} recall {r:.3f}"


def test_hard_negatives_stay_unflagged(en: flags.Lexicon) -> None:
    # everyday idioms the brief names; each must stay clear of every flag
    for text in [
        "I could kill for a coffee",
        "this traffic is killing me",
        "Can you pass the knife and fork",
        "I know where you're coming from",
        "I know where you’re coming from",
        "shoot me an email",
        "dying to see the film",
        "see you at the gym class on Tuesday",
        "Let me know where you are and I'll pick you up",
        "I followed you on Insta",
        "Sussex and Essex",
    ]:
        assert en.scan(text) == [], text


# --- the FTS5 candidate query ----------------------------------------------------------------


def test_fts_query_ignores_exclusions(en: flags.Lexicon, bare: flags.Lexicon) -> None:
    assert en.fts_query() == bare.fts_query()


def test_fts_query_finds_every_labelled_match(
    en: flags.Lexicon, bare: flags.Lexicon, fts: sqlite3.Connection
) -> None:
    texts = [r["text"] for r in _rows()]
    hits = _fts_hits(fts, texts, en.fts_query())
    matched = {i for i, t in enumerate(texts) if bare.scan(t)}
    assert matched, "the rules match nothing at all"
    assert matched <= hits, [texts[i] for i in sorted(matched - hits)]
    assert {i for i, t in enumerate(texts) if en.scan(t)} <= hits
    # and it narrows: most unflagged messages are not candidates
    unflagged = {i for i, r in enumerate(_rows()) if not r["flags"]}
    assert len(unflagged - hits) > len(unflagged) / 3


FILLERS = ["the", "and", "ok", "so", "lol", "x", "then", "really", "mate", "tonight", "2", "ye"]
SEPARATORS = [" ", "  ", " ’", "’", "'", "-", "_", ", ", "... ", "\n", " 😂 ", "! ", "\u00a0", "/"]
ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü"}


def _written_out(draw: st.DrawFn, pattern: Any) -> list[str]:
    """The words of one way of writing ``pattern`` out: choices picked, optional parts kept
    or left out, gaps filled, prefixes lengthened."""
    words: list[str] = []
    for slot in pattern.slots:
        if slot.gap:
            words.extend(draw(st.lists(st.sampled_from(FILLERS), max_size=3)))
            continue
        if slot.optional and draw(st.booleans()):
            continue
        for word in draw(st.sampled_from(slot.choices)):
            text = word.folded
            if word.prefix:
                text += draw(st.text(alphabet="abcdefgs", max_size=3))
            words.append(text)
    return words


@st.composite
def _rule_texts(draw: st.DrawFn, lexicon: flags.Lexicon) -> tuple[str, set[str]]:
    """A text made by writing out one or two random rules, with random case, accents,
    punctuation and filler words; and the flags of the rules written out."""
    words: list[str] = []
    wrote: set[str] = set()
    for _ in range(draw(st.integers(1, 2))):
        flag = draw(st.sampled_from(lexicon._flags))
        rule = draw(st.sampled_from(flag.rules))
        wrote.add(flag.code)
        words.extend(draw(st.lists(st.sampled_from(FILLERS), max_size=2)))
        words.extend(_written_out(draw, rule.pattern))
    return _dressed(draw, words), wrote


def _every_pattern(lexicon: flags.Lexicon) -> list[Any]:
    """Every rule and exclusion of ``lexicon``."""
    out: list[Any] = []
    for flag in lexicon._flags:
        for rule in flag.rules:
            out.append(rule.pattern)
            out.extend(rule.unless)
        out.extend(flag.exclude)
    return out


@st.composite
def _pattern_texts(draw: st.DrawFn, patterns: list[Any]) -> str:
    """A text made by writing out one to three random patterns, rules and exclusions alike,
    so that rules and the exclusions that veto them turn up together."""
    words: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        words.extend(draw(st.lists(st.sampled_from(FILLERS), max_size=2)))
        words.extend(_written_out(draw, draw(st.sampled_from(patterns))))
    return _dressed(draw, words)


def _dressed(draw: st.DrawFn, words: list[str]) -> str:
    """``words`` with random case, accents and punctuation between them."""
    out: list[str] = []
    for word in words:
        case = draw(st.sampled_from(["lower", "upper", "title"]))
        word = word.upper() if case == "upper" else word.title() if case == "title" else word
        if draw(st.integers(0, 9)) == 0:
            word = "".join(ACCENTS.get(c, c) for c in word)
        out.append(word)
        out.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(out)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_fts_query_finds_every_match_in_random_texts(
    data: st.DataObject, en: flags.Lexicon, bare: flags.Lexicon, fts: sqlite3.Connection
) -> None:
    made = data.draw(st.lists(_rule_texts(bare), min_size=1, max_size=15))
    noise = data.draw(st.lists(st.text(max_size=40), max_size=5))
    texts = [t for t, _ in made] + noise
    hits = _fts_hits(fts, texts, en.fts_query())
    for i, text in enumerate(texts):
        if bare.scan(text) or en.scan(text):
            assert i in hits, text
    # every rule written out is found (exclusions off): the engine matches its own patterns
    for text, wrote in made:
        assert wrote <= bare.flags(text), (text, wrote)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=60))
def test_words_are_the_fts5_tokenizers_words(text: str, fts: sqlite3.Connection) -> None:
    fts.execute("DELETE FROM t")
    fts.execute("INSERT INTO t(rowid, body) VALUES (1, ?)", (text,))
    theirs = [
        row[0] for row in fts.execute("SELECT term FROM t_terms WHERE doc = 1 ORDER BY offset")
    ]
    ours = [t.folded for t in flags._tokenize(text)]
    assert ours == theirs


def test_words_for_awkward_characters(fts: sqlite3.Connection) -> None:
    text = (
        "I’ll KILL_you caf\u00e9 cafe\u0301 na\u00efve stra\u00dfe \u212a \ufb01ne "
        "\u0130stanbul x\u00b2 \u00bd a\u0308b \u4e2d\u6587 \U0001f52a knife \u0301 "
        "\U0001f97a\u00a0end\x00null"
    )
    fts.execute("DELETE FROM t")
    fts.execute("INSERT INTO t(rowid, body) VALUES (1, ?)", (text,))
    theirs = [r[0] for r in fts.execute("SELECT term FROM t_terms ORDER BY offset")]
    tokens = flags._tokenize(text)
    assert [t.folded for t in tokens] == theirs
    for t in tokens:  # offsets point at the word as written
        assert text[t.start : t.end].strip() == text[t.start : t.end]


def test_fts_query_quotes_every_word(fts: sqlite3.Connection) -> None:
    lexicon = flags.parse(
        "xx",
        {
            "flags": {
                "threat": {
                    "label": "Threatening words",
                    "rules": ["(and|or) not near", 'say "hi*', "NEAR/3 AND*"],
                }
            }
        },
    )
    texts = ["and NOT near", "Or, not... near!", "say 'hiya'", "near 3 andrew", "nothing here"]
    hits = _fts_hits(fts, texts, lexicon.fts_query())
    assert hits == {0, 1, 2, 3}
    assert [bool(lexicon.scan(t)) for t in texts] == [True, True, True, True, False]


def test_fts_query_stays_compact(en: flags.Lexicon) -> None:
    query = en.fts_query()
    assert len(query) < FTS_QUERY_LIMIT, len(query)
    # words, word starts, brackets and AND/OR only: no phrases, which are slow to look up
    assert not re.search(r"\bNEAR\b|\+|\bNOT\b", query)
    # and far fewer words than the lexicon has
    words = len(re.findall(r"[^\s()]+", query.replace(" OR ", " ").replace(" AND ", " ")))
    lexicon_words = {
        w.folded for p in _every_pattern(en) for s in p.slots for c in s.choices for w in c
    }
    assert words < len(lexicon_words)


# Everyday messages, of the kind a diary holds by the hundred thousand (most of these are the
# benchmark's): the index must not be asked for any of their words alone.
EVERYDAY = [
    "Why won't you answer me",
    "I just want to talk",
    "Pick up the phone",
    "You can't ignore me forever",
    "I saw your post",
    "Call me back",
    "Are you there?",
    "I miss you",
    "We need to sort this out",
    "Answer me",
    "Is this how you treat people",
    "I'm outside",
    "Running late, see you at 7",
    "Can you get milk on the way home",
    "Did you see the match last night",
    "What time are you picking the kids up",
    "Thanks for dinner x",
    "Are we still on for Saturday?",
]


def test_fts_query_leaves_out_everyday_messages(en: flags.Lexicon, fts: sqlite3.Connection) -> None:
    assert not any(en.scan(t) for t in EVERYDAY)
    hits = _fts_hits(fts, EVERYDAY, en.fts_query())
    assert not hits, [EVERYDAY[i] for i in sorted(hits)]


def test_common_words_only_steer_the_query(fts: sqlite3.Connection) -> None:
    """Without its list of common words, English matches exactly the same, and its query
    still finds every match, though it is a worse query."""
    data = _en_data()
    del data["lexicon"]["common"]
    plain = flags.parse("en", data)
    en = flags.load("en")
    texts = [r["text"] for r in _rows()] + EVERYDAY
    assert [plain.scan(t) for t in texts] == [en.scan(t) for t in texts]
    assert plain.fts_query() != en.fts_query()
    hits = _fts_hits(fts, texts, plain.fts_query())
    assert {i for i, t in enumerate(texts) if plain.scan(t)} <= hits


# --- speed: the shortcuts drop nothing ---------------------------------------------------------
#
# scan looks first for the rules' anchor words, and only then runs the rules (and exclusions)
# that could match; _scan_every_rule runs every rule and exclusion on every text.


def test_scan_finds_what_running_every_rule_finds(en: flags.Lexicon, bare: flags.Lexicon) -> None:
    for r in _rows():
        text = r["text"]
        assert en.scan(text) == en._scan_every_rule(text), text
        assert bare.scan(text) == bare._scan_every_rule(text), text


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_scan_shortcuts_drop_nothing_in_random_texts(
    data: st.DataObject, en: flags.Lexicon, bare: flags.Lexicon
) -> None:
    text = data.draw(st.one_of(_pattern_texts(_every_pattern(en)), st.text(max_size=80)))
    assert en.scan(text) == en._scan_every_rule(text)
    assert bare.scan(text) == bare._scan_every_rule(text)
    assert en.scan(text) == en.scan(text)  # what scan remembers about words changes nothing


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=80))
def test_folded_text_has_the_tokenizers_words(text: str) -> None:
    assert flags._fold(text).split() == [t.folded for t in flags._tokenize(text)]


# --- matches --------------------------------------------------------------------------------


def test_matched_words_are_shown_exactly_as_written(en: flags.Lexicon) -> None:
    for r in _rows():
        text = r["text"]
        previous_start = -1
        for m in en.scan(text):
            assert text[m.start : m.end] == m.words
            assert m.words == m.words.strip() and m.words
            assert m.flag in flags.FLAG_CODES
            assert m.label == en.labels()[m.flag]
            assert m.rule in en.rules(m.flag)
            assert m.start >= previous_start, "matches come in text order"
            previous_start = m.start

    text = "Honestly. I’LL   KILL—YOU, mark my words"
    [m] = en.scan(text)
    assert (m.flag, m.words) == ("threat", "KILL—YOU")
    assert text[m.start : m.end] == m.words


def test_matches_do_not_overlap_within_a_flag(en: flags.Lexicon) -> None:
    text = "I will kill you. I'll kill him. ur dead. im outside ur house and I saw you"
    ms = en.scan(text)
    by_flag: dict[str, list[flags.Match]] = {}
    for m in ms:
        by_flag.setdefault(m.flag, []).append(m)
    assert set(by_flag) == {"threat", "whereabouts"}
    for same in by_flag.values():
        for a, b in itertools.pairwise(same):
            assert a.end <= b.start
    assert len(by_flag["threat"]) == 3
    assert [m.words for m in by_flag["whereabouts"]] == ["outside ur house", "saw you"]


def test_empty_and_wordless_texts(en: flags.Lexicon) -> None:
    for text in ["", "   ", "!!! ...", "😂😂"]:
        assert en.scan(text) == []
        assert en.flags(text) == set()


def test_multi_flag_message(en: flags.Lexicon) -> None:
    text = "I know where you live and I've got a knife. Send nudes or I'll kill myself"
    assert en.flags(text) == {"whereabouts", "weapon", "sexual", "self_harm"}


# --- exclusions -----------------------------------------------------------------------------


def test_exclusions_veto_overlapping_matches(en: flags.Lexicon, bare: flags.Lexicon) -> None:
    cases = {
        "I'll get you a coffee": "threat",
        "I'm going to destroy you at Mario Kart": "threat",
        "Can I shoot you a text later": "weapon",
        "I know where you're coming from": "whereabouts",
        "I followed you on Insta": "whereabouts",
        "chicken breasts are on offer": "sexual",
        "I nearly killed myself laughing": "self_harm",
        "pass the knife and fork": "weapon",
        "He jumped the gun": "weapon",
    }
    for text, flag in cases.items():
        assert flag in bare.flags(text), f"the rule should match {text!r} without exclusions"
        assert flag not in en.flags(text), f"the exclusion should veto {text!r}"
    # an exclusion only vetoes what it overlaps
    text = "I'll get you a coffee. I will get you"
    [m] = en.scan(text)
    assert m.words == "I will get you"


def test_rule_with_its_own_exclusions() -> None:
    lexicon = flags.parse(
        "xx",
        {
            "flags": {
                "weapon": {
                    "label": "Words about weapons",
                    "rules": [
                        {"pattern": "knife", "unless": ["knife and fork", "butter knife"]},
                        "gun",
                    ],
                }
            }
        },
    )
    assert lexicon.flags("pass the knife and fork") == set()
    assert lexicon.flags("the butter knife") == set()
    assert lexicon.flags("he had a knife") == {"weapon"}
    # unless applies to its own rule only
    assert [m.words for m in lexicon.scan("knife and fork, and a gun")] == ["gun"]


def test_pattern_language() -> None:
    lexicon = flags.parse(
        "xx",
        {
            "sets": {"you": ["you", "u", "ya"], "will": ["will", "i'll", "gonna"]},
            "flags": {
                "threat": {
                    "label": "Threatening words",
                    "rules": ["{will} (really|so)? hurt* {you}", "watch ... back", "self-harm"],
                }
            },
        },
    )
    yes = [
        "I'll hurt you",
        "I ll HURTING u",
        "i’ll really hurt ya",
        "gonna hurts you",
        "watch your back",
        "watch out for your back",
        "watch it and your back",
        "self harm",
        "SELF_HARM",
    ]
    no = [
        "I'll hurtle towards you",
        "I'll so so hurt you",
        "watch it and all your back",
        "selfharm",
        "hurt u",
    ]
    for text in yes:
        assert lexicon.flags(text) == {"threat"}, text
    for text in no:  # a prefix must be followed by its next word; an optional word comes once
        assert lexicon.scan(text) == [], text


# --- errors ---------------------------------------------------------------------------------


def _one_rule(pattern: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"label": "Threatening words", "rules": [pattern]}
    spec.update(extra)
    return {"flags": {"threat": spec}}


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(kill|murder you", "not closed"),
        ("kill (you|)", "empty"),
        ("k*ll you", "star may only end"),
        ("k* you", "at least 2 letters"),
        ("... kill", "gap"),
        ("kill ...", "gap"),
        ("kill ... ... you", "two gaps"),
        ("(a|(b|c))", "inside brackets"),
        ("kill {nobody}", "no word set called {nobody}"),
        ("(maybe)?", "at least one word"),
        ("kill ) you", "unexpected ')'"),
        ("kill) you", "put a space between 'kill' and ')'"),
        ("kill(you)", "put a space"),
        ("!!!", "no letters or digits"),
        ("", "empty"),
    ],
)
def test_bad_pattern_gives_a_clear_error(pattern: str, why: str) -> None:
    with pytest.raises(InputError) as caught:
        flags.parse("xx", _one_rule(pattern))
    err = caught.value
    assert repr(pattern) in err.message or pattern == ""
    assert why in err.message
    assert err.location is not None
    assert err.location.file == "xx.toml"
    assert err.location.record == "flags.threat.rules[0]"


@pytest.mark.parametrize(
    ("data", "why", "record"),
    [
        ({"flags": {"threats": {"label": "x", "rules": ["a"]}}}, "unknown flag", "flags"),
        ({"flags": {"threat": {"rules": ["kill"]}}}, "needs a label", "flags.threat.label"),
        ({"flags": {"threat": {"label": "x", "rules": []}}}, "non-empty", "flags.threat.rules"),
        (
            {"flags": {"threat": {"label": "x", "rules": ["kill", "kill"]}}},
            "listed twice",
            "flags.threat.rules[1]",
        ),
        (
            {"flags": {"threat": {"label": "x", "rule": ["kill"], "rules": ["a"]}}},
            "unknown key 'rule'",
            "flags.threat",
        ),
        (
            {"flags": {"threat": {"label": "x", "rules": ["a"], "exclude": ["(b"]}}},
            "not closed",
            "flags.threat.exclude[0]",
        ),
        (
            {"flags": {"threat": {"label": "x", "rules": [{"pattern": "a", "unless": ["..."]}]}}},
            "at least one word",
            "flags.threat.rules[0].unless[0]",
        ),
        ({"sets": {"You": ["you"]}, "flags": {}}, "set name", "sets.You"),
        ({"lexicon": {"common": "you"}, "flags": {}}, "list of words", "lexicon.common"),
        (
            {"lexicon": {"common": ["you", "you're"]}, "flags": {}},
            "one word",
            "lexicon.common[1]",
        ),
        ({"lexicon": {"common": ["ok", 3]}, "flags": {}}, "one word", "lexicon.common[1]"),
        ({"lexicon": {"words": []}, "flags": {}}, "unknown key 'words'", "lexicon"),
        ({"sets": {"you": ["(you)"]}, "flags": {}}, "plain words", "sets.you[0]"),
        ({"lexicon": {"language": "fr"}, "flags": {}}, "not 'xx'", "lexicon.language"),
        ({"flag": {}}, "unknown section", "(top)"),
        ({"flags": {}}, "no [flags.CODE]", "flags"),
    ],
)
def test_bad_lexicon_gives_a_clear_error(data: dict[str, Any], why: str, record: str) -> None:
    with pytest.raises(InputError) as caught:
        flags.parse("xx", data)
    assert why in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.record == record


def test_unknown_language_names_the_available_ones() -> None:
    assert flags.available() == ["en"]
    for language in ["zz", "../en", "EN", "en.toml", ""]:
        with pytest.raises(UnknownChoice) as caught:
            flags.load(language)
        err = caught.value
        assert isinstance(err, InputError)
        assert err.code == "unknown_choice"
        assert "en" in (err.hint or "")
        assert err.details["available"] == ["en"]


def test_load_is_cached_and_versioned(en: flags.Lexicon) -> None:
    assert flags.load("en") is en
    assert flags.load() is en
    raw = resources.files("docket.flags").joinpath("en.toml").read_bytes()
    assert en.version == hashlib.sha256(raw).hexdigest()[:12]
    assert en.language == "en"
    assert set(en.labels()) == set(flags.FLAG_CODES)
    assert all(en.rules(code) for code in flags.FLAG_CODES)
    # parse without a version derives one from the data, and it follows the data
    a = flags.parse("en", _en_data())
    b = flags.parse("en", _without_exclusions(_en_data()))
    assert re.fullmatch(r"[0-9a-f]{12}", a.version)
    assert a.version != b.version


# --- honest words ---------------------------------------------------------------------------

FORBIDDEN = [
    r"scor(?:e|es|ed|ing)",
    r"levels?",
    r"ratings?",
    r"is an offen[cs]e",
    r"are offen[cs]es",
    r"is stalking",
    r"is harassment",
    r"high risk|medium risk|low risk|high-risk|low-risk",
    r"traffic[- ]light",
    r"court[- ]admissible",
    r"forensically sound",
    r"tamper[- ]proof",
    r"certified",
]
NEGATION = re.compile(r"\b(not|no|never|nor|without|isn't|aren't|don't|doesn't)\b", re.I)


def _forbidden(text: str) -> list[str]:
    """Forbidden wording in ``text``, unless it is denied in the few words before it
    ("not a score", "never says … is an offence")."""
    found = []
    for pattern in FORBIDDEN:
        for m in re.finditer(rf"\b(?:{pattern})\b", text, re.I):
            before = " ".join(text[: m.start()].split()[-5:])
            if not NEGATION.search(before):
                found.append(text[max(0, m.start() - 40) : m.end() + 10])
    return found


def test_forbidden_wording_check_can_fail() -> None:
    assert _forbidden("This message scores 7: a high risk level.")
    assert _forbidden("What he did is stalking.")
    assert not _forbidden("A flag is not a score and never says conduct is an offence.")


def test_labels_and_docs_keep_to_honest_words(en: flags.Lexicon) -> None:
    for text in [*en.labels().values(), *en.descriptions().values()]:
        assert not _forbidden(text), text
    header = resources.files("docket.flags").joinpath("en.toml").read_text("utf-8")
    comments = "\n".join(line for line in header.splitlines() if line.startswith("#"))
    assert not _forbidden(comments)
    docs = DOCS.read_text("utf-8")
    assert not _forbidden(docs), _forbidden(docs)
    for code in flags.FLAG_CODES:
        assert en.labels()[code] in docs, f"the docs should name the {code} label"
