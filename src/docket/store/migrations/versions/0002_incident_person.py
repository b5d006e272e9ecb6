"""Link incidents to the people involved, so the diary can be filtered by person.

Until now the people involved in an incident lived only inside each incident's record in the
log. This adds the ``incident_person`` table and fills it from every incident's current
record, so nothing recorded before the upgrade is missed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_person",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("person.id"), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "person_id"),
    )
    op.create_index("ix_incident_person_person", "incident_person", ["person_id"])
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT incident.id, entry.record FROM incident "
            "JOIN entry ON entry.seq = incident.current_seq WHERE entry.record IS NOT NULL"
        )
    )
    known = {r[0] for r in bind.execute(sa.text("SELECT id FROM person"))}
    links = []
    for incident_id, record in rows:
        for person_id in json.loads(record).get("people", []):
            if person_id in known:
                links.append({"i": incident_id, "p": person_id})
    if links:
        bind.execute(sa.text("INSERT OR IGNORE INTO incident_person VALUES (:i, :p)"), links)


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
