"""Indicators: the office's publication state of each indicator, and the indexes that make the
whole catalogue for a year answer fast at province scale.

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-29 14:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indicator_publication",
        sa.Column("indicator_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("reporting_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "reporting_status IN ('complete', 'inprogress', 'notstarted')",
            name=op.f("ck_indicator_publication_reporting_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["user_account.id"],
            name=op.f("fk_indicator_publication_updated_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("indicator_id", name=op.f("pk_indicator_publication")),
    )


def downgrade() -> None:
    op.drop_table("indicator_publication")
