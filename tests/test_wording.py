"""Honest words (DESIGN §3, legal-risk.md §7.5): every template, message catalogue (the
jurisdiction profiles, the checklist, the word lists), user-facing string in the code, page
script and document is scanned, and the test fails on a score, a level or rating, a verdict
("is an offence", "is stalking"), or a claim such as "court-admissible" or "tamper-proof".

A phrase is allowed only in a sentence that negates it ("never says conduct is an offence"),
which is how the code and the docs explain the rule itself."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [
    *sorted((ROOT / "src" / "docket").rglob("*.html")),
    *sorted((ROOT / "src" / "docket").rglob("*.toml")),
    *sorted((ROOT / "src" / "docket").rglob("*.py")),
    ROOT / "src" / "docket_verify.py",
    *sorted((ROOT / "src" / "docket" / "web" / "static").glob("app.*")),
    *sorted((ROOT / "docs").rglob("*.md")),
    ROOT / "README.md",
]

FORBIDDEN = [
    r"\b(?:risk|danger|threat|safety|harm|stalking)[ -](?:score|level|rating|rank\w*)",
    r"\bscores?\s*(?:of|:|=)\s*\d|\bscored\s+\d",
    r"\b(?:high|medium|moderate|low|severe|standard|elevated)[ -]risk\b",
    r"\b(?:red|amber|green)\s+(?:flag|light|alert)s?\b",
    r"\btraffic[ -]light",
    r"\bout of (?:10|ten|100)\b",
    r"\bis (?:an? )?(?:offence|crime|criminal)\b",
    r"\bis (?:stalking|harassment)\b",
    r"\b(?:amounts|amount) to (?:stalking|harassment|an offence)\b",
    r"\bcourse[ -]of[ -]conduct (?:test )?(?:is )?(?:met|satisfied|established)\b",
    r"\bcourt[ -]admissible\b",
    r"\bforensically[ -]sound\b",
    r"\btamper[ -]proof\b",
    r"\bcertified\b",
    r"\b(?:your|the|this|a) (?:phone|device|computer|account|photo|picture)s? (?:is|are|looks?|"
    r"seems?) (?:now )?(?:clean|safe|secure|free of \w+)\b",
    r"\bno (?:stalkerware|spyware) (?:was |were )?(?:found|detected|on)\b",
    r"\b(?:not|isn't) infected\b",
    r"\bsafe to (?:post|share|send)\b",
    r"\byou are (?:now )?safe\b",
    r"\b(?:strong|weak) case\b",
    r"\bwill be (?:charged|convicted)\b",
]
PATTERN = re.compile("|".join(f"(?:{p})" for p in FORBIDDEN), re.IGNORECASE)
NEGATION = re.compile(
    r"\b(?:never|not|no|nothing|without|nor|cannot|don't|doesn't|isn't|won't|avoid\w*|"
    r"forbid\w*|refus\w*|fails? on|instead of|rather than|neither)\b|n't\b",
    re.IGNORECASE,
)
# the wording rules themselves are written down in these files
RULE_FILES = {"test_wording.py"}


def _sentence_start(text: str, at: int) -> int:
    cut = max(text.rfind(c, 0, at) for c in (".", "!", "?", "\n\n", "<p>", "#"))
    return 0 if cut < 0 else cut + 1


def violations(text: str) -> list[str]:
    found = []
    for m in PATTERN.finditer(text):
        before = text[_sentence_start(text, m.start()) : m.start()]
        if NEGATION.search(before):
            continue
        marked = re.findall(r"\[line (\d+)\]", text[: m.start()])
        line = int(marked[-1]) if marked else text.count("\n", 0, m.start()) + 1
        found.append(f"line {line}: {m.group(0)!r}")
    return found


def words_of(path: Path) -> str:
    """What a person could read: a Python file's strings and comments (not its names, such as
    an importer's ``score()``), any other file whole."""
    text = path.read_text("utf-8")
    if path.suffix != ".py":
        return text
    kept = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        regex = tok.string[:1] in "rR" and "|" in tok.string  # a pattern such as this file's
        kinds = (tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", -1))
        if tok.type in kinds and not regex:
            kept.append(f"[line {tok.start[0]}] {tok.string}")
    return "\n".join(kept)


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_forbidden_wording(path: Path) -> None:
    if path.name in RULE_FILES or not path.exists():
        pytest.skip("the rules themselves")
    problems = violations(words_of(path))
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


@pytest.mark.parametrize(
    "text",
    [
        "Your risk score is 7.",
        "Risk level: high",
        "This is stalking.",
        "What he did is an offence under the Act.",
        "This export is court-admissible.",
        "A tamper-proof record.",
        "Your phone is clean.",
        "This device looks secure.",
        "No stalkerware was found on your phone.",
        "The photo is now safe to post.",
        "Your account is free of intruders.",
        "Scored 12 out of 20",
        "The course of conduct test is met.",
        "HIGH RISK",
    ],
)
def test_the_scan_catches_forbidden_wording(text: str) -> None:
    assert violations(text)


@pytest.mark.parametrize(
    "text",
    [
        "Docket never says that conduct is an offence.",
        "It does not give a score: there is no risk level.",
        "Nothing here is tamper-proof in the sense of impossible to change.",
        "Police and prosecutors decide.",
        "Docket never says your phone is clean.",
        "No known indicator was found.",
        "Docket wrote cleaned copies of 3 photos.",
    ],
)
def test_the_scan_allows_negated_explanations(text: str) -> None:
    assert not violations(text)


def test_every_catalogue_was_scanned() -> None:
    names = {p.name for p in SCANNED}
    assert {"base.html", "pattern.html", "checklist.html", "questions.toml"} <= names
    assert "england-wales.toml" in names
