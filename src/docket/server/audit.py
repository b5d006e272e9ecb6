"""The server's audit log: writing one entry for each access or change, and reading them back,
newest first. The database itself refuses to change or delete an entry (migration s0001).

An entry names who (the account, and its username as it was then), what (an action such as
``case.read`` or ``login.failed``), which case, and where (``target``: a path such as
``/incidents/3``, never a query string, so search words never reach it). ``detail`` holds a
few plain values (numbers, flags, short names), never diary content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert, select

from docket.server.schema import audit
from docket.store.postgres import translate_errors

ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
TARGET_MAX = 300
ADDRESS_MAX = 100
DETAIL_TEXT_MAX = 200
DETAIL_KEYS_MAX = 20
LIMIT_MAX = 1000

Scalar = str | int | float | bool | None


class Actor(Protocol):
    """Who did it: an account (``docket.server.accounts.Account`` has these)."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log."""

    id: int
    at: datetime
    account_id: int | None  # None: the server itself (the command line), or nobody signed in
    username: str | None  # as it was at the time
    case_id: int | None
    action: str
    target: str
    address: str | None
    detail: dict[str, Any] | None


def _check_detail(detail: Mapping[str, Any]) -> str:
    if len(detail) > DETAIL_KEYS_MAX:
        raise ValueError("an audit entry's detail holds a few values, not a record")
    for key, value in detail.items():
        if not isinstance(key, str) or not ACTION.match(key):
            raise ValueError(f"audit detail keys are short lower-case names, not {key!r}")
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if not isinstance(v, Scalar):
                raise ValueError(f"audit detail {key!r} must hold plain values")
            if isinstance(v, str) and len(v) > DETAIL_TEXT_MAX:
                raise ValueError(f"audit detail {key!r} is too long to be a name or a code")
    return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_target(target: str) -> str:
    """A target is a path (``/incidents/3``) or a name, without a query string or fragment:
    those can carry what somebody searched for."""
    if "?" in target or "#" in target:
        raise ValueError("an audit target is a path without its query")
    if any(ord(c) < 0x20 for c in target):
        raise ValueError("an audit target holds no control characters")
    return target[:TARGET_MAX] or "/"


def _values(
    *,
    account: Actor | None,
    case_id: int | None,
    action: str,
    target: str,
    address: str | None,
    detail: Mapping[str, Any] | None,
    at: datetime | None,
) -> dict[str, Any]:
    if not ACTION.match(action):
        raise ValueError(f"not an audit action: {action!r}")
    return {
        "at": at or datetime.now(UTC),
        "account_id": account.id if account is not None else None,
        "username": account.username if account is not None else None,
        "case_id": case_id,
        "action": action,
        "target": check_target(target),
        "address": address[:ADDRESS_MAX] if address else None,
        "detail": _check_detail(detail) if detail else None,
    }


def record(
    conn_or_engine: Connection | Engine,
    *,
    account: Actor | None,
    case_id: int | None,
    action: str,
    target: str,
    address: str | None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one entry. Given a connection, the entry is part of its transaction (so it is
    written if and only if the change it describes is); given an engine, in one of its own."""
    values = _values(
        account=account,
        case_id=case_id,
        action=action,
        target=target,
        address=address,
        detail=detail,
        at=at,
    )
    if isinstance(conn_or_engine, Connection):
        conn_or_engine.execute(insert(audit).values(**values))
        return
    with translate_errors(), conn_or_engine.begin() as conn:
        conn.execute(insert(audit).values(**values))


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=int(row.id),
        at=row.at,
        account_id=None if row.account_id is None else int(row.account_id),
        username=row.username,
        case_id=None if row.case_id is None else int(row.case_id),
        action=row.action,
        target=row.target,
        address=row.address,
        detail=json.loads(row.detail) if row.detail else None,
    )


def entries(
    engine: Engine,
    *,
    case_id: int | None = None,
    account_id: int | None = None,
    action_prefix: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries newest first: those about one case, or by one account (or both), or all;
    ``before_id`` pages back from an entry already shown."""
    query = select(audit).order_by(audit.c.id.desc()).limit(max(1, min(limit, LIMIT_MAX)))
    if case_id is not None:
        query = query.where(audit.c.case_id == case_id)
    if account_id is not None:
        query = query.where(audit.c.account_id == account_id)
    if action_prefix is not None:
        query = query.where(audit.c.action.startswith(action_prefix, autoescape=True))
    if before_id is not None:
        query = query.where(audit.c.id < before_id)
    with translate_errors(), engine.connect() as conn:
        return [_entry(r) for r in conn.execute(query)]


__all__ = ["AuditEntry", "check_target", "entries", "record"]
