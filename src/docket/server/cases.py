"""Cases on the server: making them, who may open them, opening and closing them.

A case is one row in ``docket.case`` and one PostgreSQL schema (``case_<id>``) holding the
case's diary (:class:`docket.store.postgres.CaseStore`). The row is written last, only once
the schema and its diary are complete, so a case that failed half-way (or a server that
stopped half-way) never appears in any list; if anything fails, the new schema is dropped.
A schema left behind by a process that was killed while making a case (so had no chance to
drop it) is removed by :func:`remove_unfinished`, which runs before every new case is made
and when the server starts; while a case is being made, its maker holds an advisory lock
named after the schema, so a schema still being built is never taken for one left behind.

Who may open a case: administrators every case; caseworkers and victims only the cases
granted to them (``docket.case_access``), and a victim's account at most one case.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from docket.api import Diary
from docket.errors import CaseNotFound, InputError, RecordNotFound, VictimHasCase
from docket.server.schema import ROLES, account, case, case_access
from docket.store.postgres import CaseStore, translate_errors

TITLE_MAX = 200


@dataclass(frozen=True)
class Case:
    """One case as the server lists it. ``title`` is a reference chosen by the service,
    never the victim's name."""

    id: int
    schema_name: str
    title: str
    created_at: datetime
    closed: bool


@dataclass(frozen=True)
class GrantedAccount:
    """An account given access to a case, as the administrators' page shows it."""

    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    granted_at: datetime
    granted_by: int | None


def schema_for(case_id: int) -> str:
    """The name of a case's schema."""
    return f"case_{case_id}"


def _case(row: Sequence[Any]) -> Case:
    return Case(int(row[0]), row[1], row[2], row[3], bool(row[4]))


_CASE_COLUMNS = (case.c.id, case.c.schema_name, case.c.title, case.c.created_at, case.c.closed)


def _not_found(case_id: int) -> CaseNotFound:
    return CaseNotFound(
        f"There is no case {case_id}.",
        hint="Check the case number; 'docket server case list' lists them.",
    )


# --- making a case ------------------------------------------------------------------------------


def check_title(title: str) -> str:
    """A case's title, trimmed; refused when empty or too long."""
    title = " ".join(title.split())
    if not title:
        raise InputError(
            "A case needs a title.",
            hint="Use your service's reference for the case, for example --title 'SR-2026-0142'. "
            "Please do not use the victim's name.",
        )
    if len(title) > TITLE_MAX:
        raise InputError(
            f"A case's title can be at most {TITLE_MAX} characters.",
            hint="Use a short reference; details belong in the case's diary.",
        )
    return title


def _check_account(conn: Connection, account_id: int) -> None:
    found = conn.execute(select(account.c.id).where(account.c.id == account_id)).first()
    if found is None:
        raise RecordNotFound(
            f"There is no account {account_id}.",
            hint="'docket server user list' lists the accounts.",
        )


def create_case_with(
    engine: Engine,
    *,
    title: str,
    created_by: int | None,
    build: Callable[[str], None],
) -> Case:
    """Make a case whose schema ``build(schema_name)`` creates and fills.

    All or nothing: the case's row is written only after ``build`` has returned, and if
    ``build`` or the row fails, the schema is dropped again. Used for a new, empty case
    (:func:`create_case`) and for a diary file brought in (``docket.server.transfer``).
    """
    title = check_title(title)
    remove_unfinished(engine)
    with translate_errors(), engine.begin() as conn:
        if created_by is not None:
            _check_account(conn, created_by)
        # the number is taken now, so the schema can be named after it; sequences never hand
        # a number out twice, so a case that fails leaves a gap, never a clash
        case_id = int(
            conn.execute(
                text("SELECT nextval(pg_get_serial_sequence('docket.\"case\"', 'id'))")
            ).scalar_one()
        )
    schema = schema_for(case_id)
    with translate_errors(), _building(engine, schema):
        return _build_case(engine, case_id, schema, title, created_by, build)


def _build_case(
    engine: Engine,
    case_id: int,
    schema: str,
    title: str,
    created_by: int | None,
    build: Callable[[str], None],
) -> Case:
    try:
        build(schema)
        with translate_errors(), engine.begin() as conn:
            row = conn.execute(
                insert(case)
                .values(
                    id=case_id,
                    schema_name=schema,
                    title=title,
                    created_at=datetime.now(UTC),
                    created_by=created_by,
                    closed=False,
                )
                .returning(*_CASE_COLUMNS)
            ).one()
    except BaseException:
        _drop_schema(engine, schema)
        raise
    return _case(row)


_CASE_SCHEMA = re.compile(r"case_[1-9][0-9]*")


def _build_lock(schema: str) -> int:
    digest = hashlib.sha256(f"docket case build {schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def _building(engine: Engine, schema: str) -> Iterator[None]:
    """Hold the advisory lock that says ``schema`` is being made, on a connection of its
    own, for as long as the case is being made. The database lets it go if this process
    dies, and so then does the schema's claim."""
    with engine.connect() as guard:
        guard.execute(select(func.pg_advisory_lock(_build_lock(schema))))
        guard.commit()
        try:
            yield
        finally:
            guard.execute(select(func.pg_advisory_unlock(_build_lock(schema))))
            guard.commit()


def remove_unfinished(engine: Engine) -> list[str]:
    """Drop every case schema that has no case row and that nobody is making now: what a
    process killed while making a case left behind (it holds no case anyone can list or
    open). Returns the schemas removed."""
    with translate_errors(), engine.connect() as conn:
        names = conn.execute(
            text(
                "SELECT n.nspname FROM pg_namespace n WHERE n.nspname LIKE 'case\\_%' "
                'AND NOT EXISTS (SELECT 1 FROM docket."case" c WHERE c.schema_name = n.nspname) '
                "ORDER BY n.nspname"
            )
        ).scalars()
        unfinished = [name for name in names if _CASE_SCHEMA.fullmatch(name)]
        conn.rollback()
        removed = []
        for schema in unfinished:
            key = _build_lock(schema)
            if not conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one():
                conn.rollback()
                continue  # being made right now
            try:
                still = conn.execute(select(case.c.id).where(case.c.schema_name == schema)).first()
                if still is None:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                    removed.append(schema)
                conn.commit()
            except BaseException:
                conn.rollback()  # (the lock is the session's: it outlives the transaction)
                raise
            finally:
                conn.execute(select(func.pg_advisory_unlock(key)))
                conn.commit()
    return removed


def _drop_schema(engine: Engine, schema: str) -> None:
    """Remove a case's schema that never got its row (best effort: if the database has gone
    away, the schema stays behind, unlisted and unreachable, and holds no row to open it)."""
    with contextlib.suppress(Exception), engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def create_case(
    engine: Engine,
    server_key: bytes,
    *,
    title: str,
    created_by: int | None,
    jurisdiction: str = "england-wales",
    timezone: str | None = None,
    region: str | None = None,
) -> Case:
    """A new, empty case with its own diary: its log, signing key (sealed under the server
    key) and first checkpoint."""
    # refuse an unknown jurisdiction or time zone before a number is taken
    Diary.new_meta(jurisdiction=jurisdiction, timezone=timezone, region=region)

    def build(schema: str) -> None:
        diary = Diary.create_in(
            lambda meta: CaseStore.create(engine, schema, server_key, meta),
            jurisdiction=jurisdiction,
            timezone=timezone,
            region=region,
        )
        diary.close()

    return create_case_with(engine, title=title, created_by=created_by, build=build)


# --- finding cases ------------------------------------------------------------------------------


def get_case(engine: Engine, case_id: int) -> Case:
    with translate_errors(), engine.connect() as conn:
        row = conn.execute(select(*_CASE_COLUMNS).where(case.c.id == case_id)).first()
    if row is None:
        raise _not_found(case_id)
    return _case(row)


def list_cases(engine: Engine, *, account_id: int, role: str) -> list[Case]:
    """The cases an account may open, oldest first: every case for an administrator, only
    those granted to it for anyone else."""
    query = select(*_CASE_COLUMNS).order_by(case.c.id)
    if role != "admin":
        query = query.join(case_access, case_access.c.case_id == case.c.id).where(
            case_access.c.account_id == account_id
        )
    with translate_errors(), engine.connect() as conn:
        return [_case(r) for r in conn.execute(query)]


def granted_accounts(engine: Engine, case_id: int) -> list[GrantedAccount]:
    """The accounts given access to a case, in the order they were given it."""
    query = (
        select(
            account.c.id,
            account.c.username,
            account.c.display_name,
            account.c.role,
            account.c.disabled,
            case_access.c.granted_at,
            case_access.c.granted_by,
        )
        .join(case_access, case_access.c.account_id == account.c.id)
        .where(case_access.c.case_id == case_id)
        .order_by(case_access.c.granted_at, account.c.id)
    )
    with translate_errors(), engine.connect() as conn:
        return [
            GrantedAccount(
                int(r[0]), r[1], r[2], r[3], bool(r[4]), r[5], None if r[6] is None else int(r[6])
            )
            for r in conn.execute(query)
        ]


# --- access -------------------------------------------------------------------------------------


def grant(engine: Engine, case_id: int, account_id: int, granted_by: int | None) -> None:
    """Let an account open a case (giving it again changes nothing). A victim's account may
    be given one case only."""
    with translate_errors(), engine.begin() as conn:
        if conn.execute(select(case.c.id).where(case.c.id == case_id)).first() is None:
            raise _not_found(case_id)
        # the account's row is locked, so two grants for one victim cannot both pass the check
        who = conn.execute(
            select(account.c.role, account.c.disabled)
            .where(account.c.id == account_id)
            .with_for_update()
        ).first()
        if who is None:
            raise RecordNotFound(
                f"There is no account {account_id}.",
                hint="'docket server user list' lists the accounts.",
            )
        role, disabled = who[0], bool(who[1])
        if disabled:
            raise InputError(
                "That account is disabled, so it cannot be given access to a case.",
                hint="Enable the account first, if it should have access.",
            )
        if granted_by is not None:
            _check_account(conn, granted_by)
        if role == "victim":
            other = conn.execute(
                select(case_access.c.case_id).where(
                    and_(case_access.c.account_id == account_id, case_access.c.case_id != case_id)
                )
            ).first()
            if other is not None:
                raise VictimHasCase(
                    f"This victim's account already has access to case {other[0]}; a victim's "
                    "account can have one case only.",
                    cause="A victim sees and adds to their own case and nothing else.",
                    hint=f"If this is the right case for them, remove their access to case "
                    f"{other[0]} first.",
                )
        conn.execute(
            pg_insert(case_access)
            .values(
                case_id=case_id,
                account_id=account_id,
                granted_by=granted_by,
                granted_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["case_id", "account_id"])
        )


def revoke(engine: Engine, case_id: int, account_id: int) -> bool:
    """Take an account's access to a case away; False if it had none. It takes effect at the
    account's next request."""
    with translate_errors(), engine.begin() as conn:
        if conn.execute(select(case.c.id).where(case.c.id == case_id)).first() is None:
            raise _not_found(case_id)
        gone = conn.execute(
            delete(case_access).where(
                and_(case_access.c.case_id == case_id, case_access.c.account_id == account_id)
            )
        )
        return bool(gone.rowcount)


def can_access(engine: Engine, *, account_id: int, role: str, case_id: int) -> bool:
    """Whether this account may open this case: an administrator any case that exists; a
    caseworker or victim only a case granted to it. Only while the account is enabled and
    has the role given (a role the caller read earlier and that has since changed gives
    nothing)."""
    if role not in ROLES:
        return False
    who = (
        select(account.c.id)
        .where(account.c.id == account_id)
        .where(account.c.role == role)
        .where(account.c.disabled.is_(False))
    )
    if role == "admin":
        allowed = exists().where(case.c.id == case_id)
    else:
        allowed = (
            exists()
            .where(case_access.c.case_id == case_id)
            .where(case_access.c.account_id == account_id)
        )
    with translate_errors(), engine.connect() as conn:
        return bool(conn.execute(select(and_(exists(who), allowed))).scalar())


# --- opening and closing ------------------------------------------------------------------------


def open_case(engine: Engine, server_key: bytes, case_id: int) -> Diary:
    """The case's diary. Whether the account asking may open it is the caller's check
    (:func:`can_access`)."""
    found = get_case(engine, case_id)
    return Diary(CaseStore.open(engine, found.schema_name, server_key))


def close_case(engine: Engine, case_id: int) -> Case:
    """Mark a case closed. Its diary stays as it is, and the accounts with access keep it;
    closing says the service's work on it has ended."""
    with translate_errors(), engine.begin() as conn:
        row = conn.execute(
            update(case).where(case.c.id == case_id).values(closed=True).returning(*_CASE_COLUMNS)
        ).first()
    if row is None:
        raise _not_found(case_id)
    return _case(row)


__all__ = [
    "Case",
    "GrantedAccount",
    "can_access",
    "check_title",
    "close_case",
    "create_case",
    "create_case_with",
    "get_case",
    "grant",
    "granted_accounts",
    "list_cases",
    "open_case",
    "revoke",
    "schema_for",
]
