"""Commands for the people register: person add, list, show and edit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import click
from rich.table import Table

from docket.cli import render
from docket.cli.state import State, pass_state
from docket.model import taxonomy
from docket.model.records import PersonData
from docket.model.views import PersonView

F = Callable[..., Any]


def _identifier_options(f: F) -> F:
    for opt in reversed(
        [
            click.option("--phone", multiple=True, help="A phone number (repeatable)."),
            click.option("--email", multiple=True, help="An e-mail address (repeatable)."),
            click.option(
                "--handle",
                multiple=True,
                help="An account, as platform:name, e.g. instagram:someone (repeatable).",
            ),
            click.option("--vehicle", multiple=True, help="A number plate (repeatable)."),
        ]
    ):
        f = opt(f)
    return f


def show_person(p: PersonView) -> None:
    o = render.out
    if p.data is None:
        o.print(f"Person {p.id}: removed by you.")
        return
    d = p.data
    o.print(f"[bold]{render.text(d.name)}[/bold] (person {p.id})")
    o.print(
        f"Role: {taxonomy.ROLES.get(d.role, d.role)}; relationship: "
        f"{taxonomy.RELATIONSHIPS.get(d.relationship, d.relationship)}"
    )
    if d.description:
        o.print(f"Description: {render.text(d.description)}")
    for i in d.identifiers:
        o.print(f"  {i.kind}: {render.text(i.label())}")
    if d.notes:
        o.print(f"Notes: {render.text(d.notes)}")
    o.print(f"{render.plural(p.incident_count, 'incident')} recorded with them.")


def register(cli: click.Group) -> None:
    @cli.group()
    def person() -> None:
        """The register of people: who is responsible, witnesses, others affected."""

    @person.command("add")
    @click.argument("name")
    @click.option(
        "--role", type=click.Choice(list(taxonomy.ROLES)), default="responsible", show_default=True
    )
    @click.option(
        "--relationship",
        type=click.Choice(list(taxonomy.RELATIONSHIPS)),
        default="unknown",
        show_default=True,
    )
    @click.option("--description", help="What they look like, how they behave.")
    @click.option("--notes", help="Anything else.")
    @_identifier_options
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def add(
        state: State,
        name: str,
        role: str,
        relationship: str,
        description: str | None,
        notes: str | None,
        phone: tuple[str, ...],
        email: tuple[str, ...],
        handle: tuple[str, ...],
        vehicle: tuple[str, ...],
        as_json: bool,
    ) -> None:
        """Add someone to the register."""
        diary = state.diary()
        data = PersonData(
            name=name.strip(),
            role=role,
            relationship=relationship,
            description=(description or "").strip(),
            identifiers=diary.parse_identifiers(
                list(phone), list(email), list(handle), list(vehicle)
            ),
            notes=(notes or "").strip(),
        )
        view = diary.add_person(data)
        if as_json:
            render.emit_json(view.as_json())
            return
        render.out.print(f"Added to the register as person {view.id}.")
        show_person(view)

    @person.command("edit")
    @click.argument("ref")
    @click.option("--name")
    @click.option("--role", type=click.Choice(list(taxonomy.ROLES)))
    @click.option("--relationship", type=click.Choice(list(taxonomy.RELATIONSHIPS)))
    @click.option("--description")
    @click.option("--notes")
    @_identifier_options
    @click.option("--reason", "-r", required=True, help="Why; kept in the history.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def edit(
        state: State,
        ref: str,
        name: str | None,
        role: str | None,
        relationship: str | None,
        description: str | None,
        notes: str | None,
        phone: tuple[str, ...],
        email: tuple[str, ...],
        handle: tuple[str, ...],
        vehicle: tuple[str, ...],
        reason: str,
        as_json: bool,
    ) -> None:
        """Change someone's details or add numbers, accounts and vehicles to them."""
        diary = state.diary()
        pid = diary.resolve_person(ref)
        added = diary.parse_identifiers(list(phone), list(email), list(handle), list(vehicle))

        def change(d: PersonData) -> PersonData:
            updates = {
                k: v.strip()
                for k, v in {
                    "name": name,
                    "role": role,
                    "relationship": relationship,
                    "description": description,
                    "notes": notes,
                }.items()
                if v is not None
            }
            return dataclasses.replace(
                d, identifiers=tuple(dict.fromkeys((*d.identifiers, *added))), **updates
            )

        view = diary.edit_person(pid, change, reason)
        if as_json:
            render.emit_json(view.as_json())
        else:
            show_person(view)

    @person.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def list_(state: State, as_json: bool) -> None:
        """Everyone in the register."""
        people = state.diary().people()
        if as_json:
            render.emit_json([p.as_json() for p in people])
            return
        if not people:
            render.out.print("The register is empty. Add someone with 'docket person add NAME'.")
            return
        table = Table(show_edge=False)
        for col in ("No.", "Name", "Role", "Relationship", "Numbers and accounts", "Incidents"):
            table.add_column(col)
        for p in people:
            assert p.data is not None
            table.add_row(
                str(p.id),
                render.text(p.data.name),
                taxonomy.ROLES.get(p.data.role, p.data.role),
                taxonomy.RELATIONSHIPS.get(p.data.relationship, p.data.relationship),
                render.text(", ".join(i.label() for i in p.data.identifiers)),
                str(p.incident_count),
            )
        render.out.print(table)

    @person.command("show")
    @click.argument("ref")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def show(state: State, ref: str, as_json: bool) -> None:
        """Everything in the register about one person."""
        diary = state.diary()
        view = diary.person(diary.resolve_person(ref))
        if as_json:
            render.emit_json(view.as_json())
        else:
            show_person(view)
