"""Indexes behind the consultation lists every role opens: a municipality's and an área's
default list (every status, newest first) and the triage queue including closed ones.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 13:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_consultation_municipality_received",
        "consultation",
        ["municipality_id", sa.text("received_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_consultation_due", "consultation", ["resolution_due_at", "id"], unique=False
    )
    op.create_index(
        "ix_consultation_area_received",
        "consultation",
        ["area_id", sa.text("received_at DESC"), sa.text("id DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_consultation_area_received", table_name="consultation")
    op.drop_index("ix_consultation_due", table_name="consultation")
    op.drop_index("ix_consultation_municipality_received", table_name="consultation")
