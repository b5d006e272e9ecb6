"""The unscored checklist of things police and advocates will want to know: the questions
(data, in Docket's own words, each saying why it is asked) and the person's answers.

There is no total, score or level anywhere here, by design (research: legal-risk.md §7.4,
§7.5): answers are kept and listed back exactly as given, beside the jurisdiction's helpline
and emergency number.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from docket.errors import InputError, UnknownChoice

YES_NO: tuple[tuple[str, str], ...] = (("yes", "Yes"), ("no", "No"), ("not_sure", "Not sure"))
INTRO = (
    "These are things police and advocates will want to know. You can answer as many or as few "
    "as you like, and change your answers later. Docket does not add them up or score them: "
    "your answers are kept in your diary and shown back to you as you gave them."
)
ASK_FOR_ASSESSMENT = (
    "You can ask the police, or a specialist advocate, for a formal risk assessment. They use "
    "their own questions, and can explain what support is available."
)


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: str  # yes_no | choice
    options: tuple[tuple[str, str], ...]  # (code, label)
    why: str

    def label(self, code: str) -> str:
        return dict(self.options).get(code, code)


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

    def as_record(self) -> dict[str, Any]:
        return {"answers": {qid: a.as_record() for qid, a in self.answers}}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> ChecklistData:
        raw = r.get("answers", {})
        order = {q.id: i for i, q in enumerate(questions())}
        answers = [(qid, Answer(a.get("choice"), a.get("details", ""))) for qid, a in raw.items()]
        answers.sort(key=lambda qa: order.get(qa[0], len(order)))
        return cls(tuple(answers))

    @classmethod
    def build(cls, given: dict[str, Answer]) -> ChecklistData:
        """Validate answers against the questions; empty answers are dropped."""
        known = {q.id: q for q in questions()}
        for qid, answer in given.items():
            q = known.get(qid)
            if q is None:
                raise InputError(
                    f"There is no checklist question called {qid!r}.",
                    hint="'docket checklist --json' lists the questions and their names.",
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
            tuple((q.id, given[q.id]) for q in questions() if not given.get(q.id, Answer()).empty)
        )

    def answer(self, qid: str) -> Answer | None:
        return dict(self.answers).get(qid)


def _question(raw: dict[str, Any]) -> Question:
    kind = raw["kind"]
    if kind == "yes_no":
        options = YES_NO
    elif kind == "choice":
        options = tuple((o["code"], o["label"]) for o in raw["options"])
    else:  # pragma: no cover - the shipped file is tested
        raise ValueError(f"unknown question kind {kind!r}")
    return Question(raw["id"], raw["text"], kind, options, raw["why"])


@cache
def questions() -> tuple[Question, ...]:
    data = tomllib.loads(resources.files(__package__).joinpath("questions.toml").read_text("utf-8"))
    return tuple(_question(q) for q in data["questions"])
