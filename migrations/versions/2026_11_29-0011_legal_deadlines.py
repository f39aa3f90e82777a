"""Legal deadlines: terms in natural days and months, the organ's seat per área and the years
whose official calendar of non-working days is known.

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-29 13:06:17.217306+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_UNITS = "unit IN ('working_days', 'working_hours')"
_NEW_UNITS = "unit IN ('working_days', 'working_hours', 'natural_days', 'months')"


def upgrade() -> None:
    op.create_table(
        "official_calendar_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_official_calendar_year")),
    )
    op.add_column("area", sa.Column("seat_municipality_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_area_seat_municipality_id_municipality"),
        "area",
        "municipality",
        ["seat_municipality_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column(
        "calendar_entry",
        sa.Column(
            "closing_term_unit",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            server_default="working_days",
            nullable=False,
        ),
    )
    op.add_column(
        "stage_definition",
        sa.Column(
            "expected_unit",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            server_default="working_days",
            nullable=False,
        ),
    )
    op.drop_constraint(op.f("ck_sla_policy_unit_values"), "sla_policy", type_="check")
    op.create_check_constraint(op.f("ck_sla_policy_unit_values"), "sla_policy", _NEW_UNITS)


def downgrade() -> None:
    op.execute(
        "UPDATE sla_policy SET unit = 'working_days' WHERE unit IN ('natural_days', 'months')"
    )
    op.drop_constraint(op.f("ck_sla_policy_unit_values"), "sla_policy", type_="check")
    op.create_check_constraint(op.f("ck_sla_policy_unit_values"), "sla_policy", _OLD_UNITS)
    op.drop_column("stage_definition", "expected_unit")
    op.drop_column("calendar_entry", "closing_term_unit")
    op.drop_constraint(
        op.f("fk_area_seat_municipality_id_municipality"), "area", type_="foreignkey"
    )
    op.drop_column("area", "seat_municipality_id")
    op.drop_table("official_calendar_year")
