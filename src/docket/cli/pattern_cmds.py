"""Commands for seeing the pattern: analyse, the orders register (order add, list, edit) and
the unscored checklist (checklist, checklist answer)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import Any

import click
from rich.table import Table

from docket.analysis import WEEKDAYS, Analysis
from docket.api import Diary, OrderView
from docket.checklist import ASK_FOR_ASSESSMENT, INTRO, Answer, ChecklistData, questions
from docket.cli import render
from docket.cli.state import State, pass_state
from docket.errors import InputError
from docket.model import timeparse
from docket.model.records import OrderData

F = Callable[..., Any]


def _show_analysis(diary: Diary, a: Analysis) -> None:
    o = render.out
    o.print("[bold]The pattern in your diary[/bold] (facts only; police and prosecutors decide)")
    o.print(f"As of {a.as_of}, in {a.timezone}.")
    o.print(
        f"{render.plural(a.incidents, 'incident')}; "
        f"{render.plural(a.messages, 'imported message or call', 'imported messages and calls')}, "
        f"of which {a.contacts:,} are counted as contacts from the person responsible."
    )
    if a.first_incident and a.latest_incident:
        o.print(
            f"First incident: {render.local_time(a.first_incident, a.timezone)}. "
            f"Latest: {render.local_time(a.latest_incident, a.timezone)} "
            f"({render.plural(a.days_since_latest or 0, 'day')} ago)."
        )
    if a.findings:
        o.print("\n[bold]What the diary shows[/bold]")
        for f in a.findings:
            refs = []
            if f.incidents:
                refs.append("entries " + ", ".join(map(str, f.incidents[:8])))
                if len(f.incidents) > 8:
                    refs[-1] += " …"
            if f.message_total and f.messages:
                refs.append(
                    f"messages {', '.join(map(str, f.messages[:5]))}"
                    + (" …" if f.message_total > 5 else "")
                )
            o.print(
                f"• {render.text(f.text)}" + (f" [dim]({'; '.join(refs)})[/dim]" if refs else "")
            )
    o.print(f"\n[dim]{render.text(a.course_of_conduct)}[/dim]")
    if a.by_category:
        t = Table(title="Incidents by category", title_justify="left")
        t.add_column("Category")
        t.add_column("Incidents", justify="right")
        for _, name, n in a.by_category:
            t.add_row(render.text(name), str(n))
        o.print(t)
    if a.months:
        t = Table(title="By month", title_justify="left")
        t.add_column("Month")
        t.add_column("Incidents", justify="right")
        t.add_column("Contacts", justify="right")
        for m in a.months[-12:]:
            t.add_row(m.month, str(m.incidents), f"{m.contacts:,}")
        o.print(t)
    if a.by_person:
        t = Table(title="By person", title_justify="left")
        t.add_column("Person")
        t.add_column("Incidents", justify="right")
        t.add_column("Contacts", justify="right")
        for p in a.by_person:
            t.add_row(render.text(p.name), str(p.incidents), f"{p.contacts:,}")
        o.print(t)
    busiest = sorted(
        ((n, d, h) for d, row in enumerate(a.heatmap) for h, n in enumerate(row) if n),
        reverse=True,
    )[:3]
    if busiest:
        o.print(
            "Busiest times: "
            + "; ".join(f"{WEEKDAYS[d]}s {h:02d}:00–{h:02d}:59 ({n:,})" for n, d, h in busiest)
            + "."
        )
    render.footer(diary.jurisdiction)


def _show_order(diary: Diary, v: OrderView) -> None:
    d = v.data
    kind = diary.jurisdiction.order_type(d.type)
    o = render.out
    o.print(f"[bold]{render.text(kind.name if kind else d.type)}[/bold] (order {v.id})")
    o.print(
        f"Made on {d.made_on:%d %B %Y}" + (f"; ends on {d.ends_on:%d %B %Y}" if d.ends_on else "")
    )
    if d.against:
        names = [diary.person(p).data for p in d.against]
        o.print("Against: " + ", ".join(render.text(n.name) for n in names if n))
    for label, value in (
        ("Terms", d.terms),
        ("Reference", d.reference),
        ("Court", d.court),
        ("Notes", d.notes),
    ):
        if value:
            o.print(f"{label}: {render.text(value)}")


def _show_checklist(diary: Diary, data: ChecklistData, updated_at: str | None) -> None:
    o = render.out
    o.print("[bold]Things police and advocates will want to know[/bold]")
    o.print(INTRO)
    if updated_at:
        o.print(f"[dim]Last changed {render.local_time(updated_at, diary.timezone)}.[/dim]")
    for q in questions():
        a = data.answer(q.id)
        o.print(f"\n{render.text(q.text)}")
        if a is None:
            o.print("  [dim]Not answered.[/dim]")
        else:
            if a.choice:
                o.print(f"  {render.text(q.label(a.choice))}")
            if a.details:
                o.print(f"  {render.text(a.details)}")
    o.print(f"\n{render.text(diary.jurisdiction.checklist_note())}")
    o.print(ASK_FOR_ASSESSMENT)


def gather_answers(
    current: dict[str, Answer],
    given: tuple[str, ...],
    details: tuple[str, ...],
    set_name: str,
    intro: str,
    command: str,
) -> dict[str, Answer]:
    """A checklist's answers: the current ones changed by --set and --details, or else asked
    one question at a time in a terminal (Enter keeps an answer; '-' clears it)."""
    answers: dict[str, Answer] = dict(current)
    if given or details:
        for item in given:
            qid, sep, choice = item.partition("=")
            if not sep:
                raise InputError(
                    f"{item!r} is not QUESTION=ANSWER.", hint="For example --set threats=yes."
                )
            before = answers.get(qid.strip(), Answer())
            answers[qid.strip()] = Answer(choice.strip() or None, before.details)
        for item in details:
            qid, sep, text = item.partition("=")
            if not sep:
                raise InputError(
                    f"{item!r} is not QUESTION=TEXT.",
                    hint="For example --details 'turning_up=Most evenings'.",
                )
            before = answers.get(qid.strip(), Answer())
            answers[qid.strip()] = Answer(before.choice, text.strip())
        return answers
    if not sys.stdin.isatty():
        raise InputError(
            "Nothing to answer.",
            hint=f"Run 'docket {command} answer' in a terminal to be asked each question, "
            "or use --set QUESTION=ANSWER.",
        )
    render.out.print(intro)
    for q in questions(set_name):
        before = answers.get(q.id, Answer())
        render.out.print(f"\n[bold]{render.text(q.text)}[/bold]\n[dim]{render.text(q.why)}[/dim]")
        codes = [c for c, _ in q.options]
        render.out.print("  " + "; ".join(f"{c} = {lab}" for c, lab in q.options))
        got: str = click.prompt(
            "Answer", default=before.choice or "", show_default=bool(before.choice)
        )
        picked = None if got.strip() in ("", "-") else got.strip()
        if picked is not None and picked not in codes:
            raise InputError(f"{picked!r} is not one of: {', '.join(codes)}.")
        words = click.prompt("Anything to add", default=before.details or "", show_default=False)
        answers[q.id] = Answer(picked, "" if words.strip() == "-" else words)
    return answers


def register(cli: click.Group) -> None:
    @cli.command("analyse")
    @click.option("--as-of", help="Count up to this day (default: today).")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def analyse(state: State, as_of: str | None, as_json: bool) -> None:
        """Show the pattern: counts, trends, bursts, first appearances and flagged words.

        Facts only: Docket never says what the conduct is in law and never gives a score.
        """
        diary = state.diary()
        day = (
            timeparse.parse_day(as_of, diary.timezone, "--as-of", allow_future=True)
            if as_of
            else None
        )
        a = diary.analyse(as_of=day)
        if as_json:
            render.emit_json(a.as_json())
            return
        _show_analysis(diary, a)

    @cli.group()
    def order() -> None:
        """Court orders and bail conditions: kept so Docket can show what happened after them."""

    def _order_data(
        diary: Diary,
        base: OrderData | None,
        type_: str | None,
        made_on: str | None,
        ends_on: str | None,
        against: tuple[str, ...],
        terms: str | None,
        reference: str | None,
        court: str | None,
        notes: str | None,
    ) -> OrderData:
        tz = diary.timezone
        if base is None and (type_ is None or made_on is None):
            raise InputError(
                "An order needs its kind (--type) and the date it was made (--made-on)."
            )
        made = timeparse.parse_day(made_on, tz, "--made-on", allow_future=True)
        return OrderData(
            type=type_ or (base.type if base else ""),
            made_on=made or (base.made_on if base else date.today()),
            ends_on=timeparse.parse_day(ends_on, tz, "--ends-on", allow_future=True)
            if ends_on
            else (base.ends_on if base else None),
            against=tuple(diary.resolve_person(p) for p in against)
            if against
            else (base.against if base else ()),
            terms=(terms if terms is not None else base.terms if base else "").strip(),
            reference=(
                reference if reference is not None else base.reference if base else ""
            ).strip(),
            court=(court if court is not None else base.court if base else "").strip(),
            notes=(notes if notes is not None else base.notes if base else "").strip(),
        )

    def _order_options(f: F) -> F:
        for opt in reversed(
            [
                click.option(
                    "--type", "type_", help="The kind of order; 'docket order kinds' lists them."
                ),
                click.option("--made-on", help="The day it was made, e.g. 03/03/2026."),
                click.option("--ends-on", help="The day it ends, if it has an end date."),
                click.option(
                    "--against",
                    multiple=True,
                    help="Who it is against: a name or register number (repeatable).",
                ),
                click.option("--terms", help="What it says they must not (or must) do."),
                click.option("--reference", help="The case number."),
                click.option("--court", help="The court that made it."),
                click.option("--notes", help="Anything else."),
                click.option("--json", "as_json", is_flag=True),
            ]
        ):
            f = opt(f)
        return f

    @order.command("kinds")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def kinds(state: State, as_json: bool) -> None:
        """The kinds of order in the diary's jurisdiction."""
        diary = state.diary()
        items = diary.jurisdiction.orders
        if as_json:
            render.emit_json(
                [{"code": k.code, "name": k.name, "description": k.description} for k in items]
            )
            return
        for k in items:
            render.out.print(
                f"[bold]{k.code}[/bold]  {render.text(k.name)}: {render.text(k.description)}"
            )

    @order.command("add")
    @_order_options
    @pass_state
    def add(
        state: State,
        type_: str | None,
        made_on: str | None,
        ends_on: str | None,
        against: tuple[str, ...],
        terms: str | None,
        reference: str | None,
        court: str | None,
        notes: str | None,
        as_json: bool,
    ) -> None:
        """Record a court order or bail conditions."""
        diary = state.diary()
        data = _order_data(
            diary, None, type_, made_on, ends_on, against, terms, reference, court, notes
        )
        view = diary.add_order(data)
        if as_json:
            render.emit_json(view.as_json())
            return
        render.out.print(f"Kept as order {view.id}.")
        _show_order(diary, view)

    @order.command("edit")
    @click.argument("order_id", type=int)
    @_order_options
    @click.option("--reason", "-r", required=True, help="Why; kept in the history.")
    @pass_state
    def edit(
        state: State,
        order_id: int,
        type_: str | None,
        made_on: str | None,
        ends_on: str | None,
        against: tuple[str, ...],
        terms: str | None,
        reference: str | None,
        court: str | None,
        notes: str | None,
        reason: str,
        as_json: bool,
    ) -> None:
        """Change an order's details (the earlier version stays in the history)."""
        diary = state.diary()
        base = diary.order(order_id).data
        data = _order_data(
            diary, base, type_, made_on, ends_on, against, terms, reference, court, notes
        )
        view = diary.edit_order(order_id, data, reason)
        if as_json:
            render.emit_json(view.as_json())
            return
        render.out.print(f"Order {view.id} changed (version {view.version}).")
        _show_order(diary, view)

    @order.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def list_orders(state: State, as_json: bool) -> None:
        """List the orders kept in the diary."""
        diary = state.diary()
        items = diary.orders()
        if as_json:
            render.emit_json([v.as_json() for v in items])
            return
        if not items:
            render.out.print("No orders are kept in this diary. 'docket order add' adds one.")
        for v in items:
            _show_order(diary, v)

    @cli.group(invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    @click.pass_context
    def checklist(ctx: click.Context, state: State, as_json: bool) -> None:
        """The unscored checklist of things police and advocates will want to know."""
        if ctx.invoked_subcommand is not None:
            return
        diary = state.diary()
        view = diary.checklist()
        if as_json:
            render.emit_json(
                {
                    "updated_at": view.updated_at,
                    "questions": [
                        {
                            "id": q.id,
                            "text": q.text,
                            "options": [{"code": c, "label": lab} for c, lab in q.options],
                            "why": q.why,
                            "answer": (a.as_record() if (a := view.data.answer(q.id)) else None),
                        }
                        for q in questions()
                    ],
                    "note": diary.jurisdiction.checklist_note(),
                }
            )
            return
        _show_checklist(diary, view.data, view.updated_at)

    @checklist.command("answer")
    @click.option(
        "--set",
        "given",
        multiple=True,
        metavar="QUESTION=ANSWER",
        help="Answer without being asked, e.g. --set threats=yes (repeatable).",
    )
    @click.option(
        "--details",
        "details",
        multiple=True,
        metavar="QUESTION=TEXT",
        help="Add words to an answer (repeatable).",
    )
    @pass_state
    def answer(state: State, given: tuple[str, ...], details: tuple[str, ...]) -> None:
        """Answer the checklist, one question at a time (Enter keeps an answer; '-' clears it)."""
        diary = state.diary()
        answers = gather_answers(
            dict(diary.checklist().data.answers), given, details, "risk", INTRO, "checklist"
        )
        view = diary.save_checklist(ChecklistData.build(answers))
        render.out.print("Your answers are kept in the diary.")
        _show_checklist(diary, view.data, view.updated_at)
