"""Docket's unscored checklists: named sets of questions (data, in Docket's own words, each
saying why it is asked) and the person's answers, validated against the set.

Two sets ship with Docket. ``risk`` (questions.toml) is the checklist of things police and
advocates will want to know; ``accounts`` (accounts.toml) is the account-safety checklist of
things to check on a phone and online accounts, each with how to check it and, where acting
could alert the other person, a caution shown first.

There is no total, score or level anywhere here, by design (research: legal-risk.md §7.4,
§7.5): answers are kept and listed back exactly as given, beside the jurisdiction's helpline
and emergency number. Nothing here can say that an account or a phone is free of anyone
else's access (research: legal-risk.md §5.3, security.md §5).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from string import Formatter
from typing import Any, Final, NoReturn

from docket.errors import ConfigError, InputError, Location, UnknownChoice
from docket.jurisdictions import FORBIDDEN_WORDING, Jurisdiction
from docket.jurisdictions import load as load_jurisdiction

YES_NO: tuple[tuple[str, str], ...] = (("yes", "Yes"), ("no", "No"), ("not_sure", "Not sure"))
CHECK: tuple[tuple[str, str], ...] = (
    ("done", "I have checked this"),
    ("not_yet", "Not yet"),
    ("not_sure", "I am not sure how"),
    ("not_applicable", "Does not apply to me"),
)
KINDS: Final[tuple[str, ...]] = ("yes_no", "choice", "check")

INTRO = (
    "These are things police and advocates will want to know. You can answer as many or as few "
    "as you like, and change your answers later. Docket does not add them up or score them: "
    "your answers are kept in your diary and shown back to you as you gave them."
)
ASK_FOR_ASSESSMENT = (
    "You can ask the police, or a specialist advocate, for a formal risk assessment. They use "
    "their own questions, and can explain what support is available."
)

ACCOUNTS_INTRO = (
    "This is a list of things to check on your phone and your online accounts, if you think "
    "the other person may be getting into them, reading your messages or knowing where you "
    "are. Each item says why it matters and how to check it. Work through it at your own "
    "pace: a few items at a time is fine, and you can come back and change your answers "
    "whenever you like. Docket keeps your answers in your diary and does not add them up. "
    "It cannot tell you that an account or a phone is free of anyone else's access: it is a "
    "list of things to look at, not a test. Menus differ between phones, apps and versions; "
    "if a step does not match what you see, search in Settings for the words in the step."
)
ACCOUNTS_SAFETY_FIRST = (
    "Your safety comes first. Looking at a setting or a list of devices does not usually tell "
    "anyone, but signing in from a new phone or computer can send a 'new sign-in' message to "
    "the account's e-mail or phone. Changing things can be noticed: a new password, a removed "
    "device or a location share that stops can all show up on their side, and if they notice, "
    "it could make things more dangerous. Before you change anything, think about talking to "
    "a specialist helpline or an advocate, who can help you plan. Keep a record first: a photo "
    "or screenshot of what you find can be evidence, and Docket can keep it in your diary. If "
    "you think your phone or computer is being watched, use one the other person has never "
    "had access to for anything you would not want them to see."
)
ACCOUNTS_SUPPORT = (
    "If you would like help with any of this, you can talk to {helpline}. "
    "If you are in danger now, call {emergency}."
)

# Placeholders a caution may use, filled from the jurisdiction by ``render_caution``.
PLACEHOLDERS: Final[tuple[str, ...]] = ("helpline", "emergency")
NEUTRAL_HELPLINE = "a specialist support service"
NEUTRAL_EMERGENCY_NUMBER = "your local emergency number"

# Claims the account-safety checklist must never make, on top of the wording no part of
# Docket may use (research: legal-risk.md §7.5; security.md §5.4: never "clean" or "safe").
ACCOUNT_CLAIMS: Final[re.Pattern[str]] = re.compile(
    r"\b(?:secure[ds]?|securely|safe|safer|safely|clean|cleaned|score[sd]?|scoring"
    r"|level|levels|rating|ratings|protected|guarantee[sd]?|hack-?proof|spyware[- ]free)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: str  # yes_no | choice | check
    options: tuple[tuple[str, str], ...]  # (code, label)
    why: str
    how: str = ""  # how to check, one step per line (the accounts set)
    caution: str = ""  # shown before the advice; may hold {helpline} and {emergency}
    topic: str = ""  # the heading of the group the question belongs to

    def label(self, code: str) -> str:
        return dict(self.options).get(code, code)

    @property
    def how_steps(self) -> tuple[str, ...]:
        """The steps of ``how``, one a line, blank lines left out."""
        return tuple(line.strip() for line in self.how.splitlines() if line.strip())


@dataclass(frozen=True)
class Answer:
    choice: str | None = None  # an option code; None when only details were given
    details: str = ""

    def as_record(self) -> dict[str, str]:
        out = {}
        if self.choice:
            out["choice"] = self.choice
        if self.details.strip():
            out["details"] = self.details.strip()
        return out

    @property
    def empty(self) -> bool:
        return not self.choice and not self.details.strip()


@dataclass(frozen=True)
class ChecklistData:
    answers: tuple[tuple[str, Answer], ...]  # in the questions' order, empty answers left out
    set_name: str = "risk"

    def as_record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"answers": {qid: a.as_record() for qid, a in self.answers}}
        if self.set_name != "risk":  # records of the original checklist stay exactly as before
            out["set"] = self.set_name
        return out

    @classmethod
    def from_record(cls, r: dict[str, Any], set_name: str = "risk") -> ChecklistData:
        recorded = r.get("set", "risk")
        if recorded != set_name:
            raise InputError(
                f"These answers belong to the {recorded!r} checklist, not {set_name!r}.",
                hint="Read them with the checklist they were saved with.",
                details={"set": recorded, "expected": set_name},
            )
        raw = r.get("answers", {})
        order = {q.id: i for i, q in enumerate(questions(set_name))}
        answers = [(qid, Answer(a.get("choice"), a.get("details", ""))) for qid, a in raw.items()]
        answers.sort(key=lambda qa: order.get(qa[0], len(order)))
        return cls(tuple(answers), set_name)

    @classmethod
    def build(cls, given: dict[str, Answer], set_name: str = "risk") -> ChecklistData:
        """Validate answers against the set's questions; empty answers are dropped."""
        spec = _spec(set_name)
        asked = questions(set_name)
        known = {q.id: q for q in asked}
        for qid, answer in given.items():
            q = known.get(qid)
            if q is None:
                raise InputError(
                    f"There is no {spec.description} question called {qid!r}.",
                    hint=spec.list_hint,
                )
            if answer.choice is not None and answer.choice not in dict(q.options):
                listed = ", ".join(f"{c} ({label})" for c, label in q.options)
                raise UnknownChoice(
                    f"{answer.choice!r} is not an answer to the question {qid!r}.",
                    hint=f"Use one of: {listed}.",
                    details={"valid": [c for c, _ in q.options]},
                )
            if len(answer.details) > 4000:
                raise InputError(
                    f"The details for {qid!r} are too long to keep in the checklist.",
                    hint="Keep it to a few sentences; add a diary entry for anything longer.",
                )
        return cls(
            tuple((q.id, given[q.id]) for q in asked if not given.get(q.id, Answer()).empty),
            set_name,
        )

    def answer(self, qid: str) -> Answer | None:
        return dict(self.answers).get(qid)


# --- the sets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SetSpec:
    file: str
    description: str  # "checklist", "account-safety checklist": used in messages
    list_hint: str  # where to find the questions' names
    needs_how_and_topic: bool
    strict_claims: bool  # also refuse ACCOUNT_CLAIMS


_SETS: Final[dict[str, _SetSpec]] = {
    "risk": _SetSpec(
        file="questions.toml",
        description="checklist",
        list_hint="'docket checklist --json' lists the questions and their names.",
        needs_how_and_topic=False,
        strict_claims=False,
    ),
    "accounts": _SetSpec(
        file="accounts.toml",
        description="account-safety checklist",
        list_hint="The account-safety checklist lists the questions and their names.",
        needs_how_and_topic=True,
        strict_claims=True,
    ),
}
SET_NAMES: Final[tuple[str, ...]] = tuple(_SETS)


def _spec(set_name: str) -> _SetSpec:
    spec = _SETS.get(set_name)
    if spec is None:
        raise InputError(
            f"There is no checklist called {set_name!r}.",
            hint="The checklists are: " + ", ".join(SET_NAMES) + ".",
        )
    return spec


def questions(set_name: str = "risk") -> tuple[Question, ...]:
    """The questions of one named set, in order (``risk`` unless another set is named)."""
    _spec(set_name)
    return _shipped(set_name)


@cache
def _shipped(set_name: str) -> tuple[Question, ...]:
    spec = _SETS[set_name]
    text = resources.files(__package__).joinpath(spec.file).read_text("utf-8")
    return parse(text, source=spec.file, set_name=set_name)


def topics(set_name: str = "accounts") -> tuple[tuple[str, tuple[Question, ...]], ...]:
    """The set's questions grouped under their topics, in order (questions without a topic
    are grouped under an empty heading)."""
    groups: list[tuple[str, list[Question]]] = []
    for q in questions(set_name):
        if not groups or groups[-1][0] != q.topic:
            groups.append((q.topic, []))
        groups[-1][1].append(q)
    return tuple((topic, tuple(qs)) for topic, qs in groups)


def load_file(path: Path, *, set_name: str = "risk") -> tuple[Question, ...]:
    """Read and validate a question file kept somewhere else (a translation, or a copy being
    edited), by the rules of the named set."""
    return parse(path.read_text("utf-8"), source=path.name, set_name=set_name)


# --- validation -----------------------------------------------------------------------------

_TOP_KEYS: Final[frozenset[str]] = frozenset({"last_checked", "questions"})
_QUESTION_KEYS: Final[frozenset[str]] = frozenset(
    {"id", "text", "kind", "options", "why", "how", "caution", "topic"}
)
_OPTION_KEYS: Final[frozenset[str]] = frozenset({"code", "label"})
_ID = re.compile(r"[a-z][a-z0-9_]{0,47}")
_HEADER = re.compile(r"^\s*\[\[\s*questions\s*\]\]\s*(?:#.*)?$")


class _Reader:
    """Reads one question file, naming the file and the question in every complaint."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        # The line of each [[questions]] header, so a complaint can say where to look.
        self.lines = [n for n, line in enumerate(text.splitlines(), 1) if _HEADER.match(line)]

    def fail(
        self,
        message: str,
        *,
        question: str | None = None,
        number: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> NoReturn:
        where = f"The checklist file {self.source}"
        if question is not None:
            where += f", question {question!r}"
        elif number is not None:
            where += f", question number {number}"
        if key is not None:
            where += f", {key!r}"
        details: dict[str, Any] = {"file": self.source}
        if question is not None:
            details["question"] = question
        if number is not None:
            details["number"] = number
        if key is not None:
            details["key"] = key
        line = None
        if number is not None and len(self.lines) >= number:
            line = self.lines[number - 1]
        raise ConfigError(
            f"{where}: {message}",
            hint=hint or "Correct the file; the comment at its top describes each key.",
            location=Location(
                file=self.source,
                line=line,
                record=f"question {question}" if question is not None else None,
            ),
            details=details,
        )


def parse(text: str, *, source: str, set_name: str = "risk") -> tuple[Question, ...]:
    """Validate the text of one question file by the rules of the named set and build its
    questions. Every complaint is a ConfigError naming the file and, where it can, the
    question; ``source`` is the file's name as shown in those complaints."""
    spec = _spec(set_name)
    r = _Reader(source, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        r.fail(f"it is not valid TOML ({exc}).", hint="Check the quotes and brackets there.")
    for key in data:
        if key not in _TOP_KEYS:
            r.fail(
                "Docket does not know this key.",
                key=key,
                hint="The keys Docket knows at the top of the file are: "
                + ", ".join(sorted(_TOP_KEYS))
                + ".",
            )
    rows = data.get("questions")
    if not isinstance(rows, list) or not rows:
        r.fail("it has no questions; each is written [[questions]].", key="questions")
    seen: set[str] = set()
    topics_done: set[str] = set()
    out: list[Question] = []
    for number, row in enumerate(rows, start=1):
        q = _question(r, row, number, spec)
        if q.id in seen:
            r.fail(
                "this name is used by another question.",
                question=q.id,
                number=number,
                key="id",
                hint="Give each question its own name.",
            )
        seen.add(q.id)
        if out and q.topic != out[-1].topic:
            topics_done.add(out[-1].topic)
            if q.topic in topics_done:
                r.fail(
                    f"the topic {q.topic!r} appears earlier, with other topics in between.",
                    question=q.id,
                    number=number,
                    key="topic",
                    hint="Keep the questions of one topic together.",
                )
        out.append(q)
    return tuple(out)


def _question(r: _Reader, row: Any, number: int, spec: _SetSpec) -> Question:
    if not isinstance(row, dict):
        r.fail("each question must be a table, written [[questions]].", number=number)
    raw_id = row.get("id")
    qid = raw_id.strip() if isinstance(raw_id, str) else None
    name = qid or None

    def fail(message: str, key: str | None = None, hint: str | None = None) -> NoReturn:
        r.fail(message, question=name, number=number, key=key, hint=hint)

    for key in row:
        if key not in _QUESTION_KEYS:
            fail(
                "Docket does not know this key.",
                key,
                "Check the spelling. The keys Docket knows for a question are: "
                + ", ".join(sorted(_QUESTION_KEYS))
                + ".",
            )
    if not qid:
        fail('the question has no name; add id = "a_short_name".', "id")
    if not _ID.fullmatch(qid):
        fail(
            "a question's name must be lower-case letters, digits and _ (up to 48).",
            "id",
        )

    def text(key: str, *, required: bool) -> str:
        value = row.get(key, "")
        if not isinstance(value, str):
            fail("this must be text, in quotes.", key)
        value = value.strip()
        if required and not value:
            fail("this is required and must not be empty.", key)
        fields = [f for _, f, _, _ in Formatter().parse(value) if f is not None]
        allowed = PLACEHOLDERS if key == "caution" else ()
        for f in fields:
            if f not in allowed:
                fail(
                    f"it has a placeholder Docket does not fill ({{{f}}}).",
                    key,
                    "Only a caution may use placeholders, and only "
                    + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                    + ".",
                )
        found = FORBIDDEN_WORDING.search(value) or (
            ACCOUNT_CLAIMS.search(value) if spec.strict_claims else None
        )
        if found:
            fail(
                f"it uses wording Docket must never use ({found.group(0)!r}).",
                key,
                "Say what to check and why; never a verdict, a score or a promise that "
                "an account or a phone is free of anyone else's access.",
            )
        return value

    kind = row.get("kind")
    if kind not in KINDS:
        fail(
            f"Docket does not know the kind {kind!r}.",
            "kind",
            "The kinds Docket knows are: " + ", ".join(KINDS) + ".",
        )
    question_text = text("text", required=True)
    why = text("why", required=True)
    how = text("how", required=spec.needs_how_and_topic)
    caution = text("caution", required=False)
    topic = text("topic", required=spec.needs_how_and_topic)
    if kind == "choice":
        options = _options(row.get("options"), fail)
    elif "options" in row:
        fail(f"only a question of kind 'choice' lists options; {kind!r} has its own.", "options")
    else:
        options = YES_NO if kind == "yes_no" else CHECK
    return Question(qid, question_text, kind, options, why, how, caution, topic)


def _options(raw: Any, fail: Callable[..., NoReturn]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        fail("a 'choice' question needs a list of at least two options.", "options")
    out: list[tuple[str, str]] = []
    for i, o in enumerate(raw, start=1):
        key = f"options[{i}]"
        if not isinstance(o, dict) or set(o) != _OPTION_KEYS:
            fail('each option must be { code = "…", label = "…" } and nothing else.', key)
        code, label = o["code"], o["label"]
        if not isinstance(code, str) or not _ID.fullmatch(code):
            fail("an option's code must be lower-case letters, digits and _.", key)
        if not isinstance(label, str) or not label.strip():
            fail("an option needs a label.", key)
        if code in dict(out):
            fail(f"the option code {code!r} is used twice.", key)
        out.append((code, label.strip()))
    return tuple(out)


# --- words filled from the jurisdiction -----------------------------------------------------


def fill(text: str, jurisdiction: Jurisdiction | str) -> str:
    """``text`` with {helpline} and {emergency} filled from the jurisdiction: its first
    helpline (with the number) and its emergency number, or neutral words where the profile
    has none (never another place's numbers)."""
    j = load_jurisdiction(jurisdiction) if isinstance(jurisdiction, str) else jurisdiction
    if j.helplines:
        first = j.helplines[0]
        helpline = f"{first.in_sentence()} ({first.phone})"
    else:
        helpline = NEUTRAL_HELPLINE
    emergency = j.emergency_number or NEUTRAL_EMERGENCY_NUMBER
    return text.replace("{helpline}", helpline).replace("{emergency}", emergency)


def render_caution(question: Question, jurisdiction: Jurisdiction | str) -> str:
    """The question's caution, ready to show before its advice ("" when it has none)."""
    return fill(question.caution, jurisdiction) if question.caution else ""


def accounts_support(jurisdiction: Jurisdiction | str) -> str:
    """The line shown with the account-safety checklist: where to get help, and what to do
    in danger."""
    return fill(ACCOUNTS_SUPPORT, jurisdiction)
