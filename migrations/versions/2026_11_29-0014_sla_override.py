"""A legal term fixed for one consultation, overriding its SLA policy's targets: unit,
resolution and optional first-response term, and the legal basis that sets it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 15:05:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "consultation",
        sa.Column("sla_override_unit", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.add_column(
        "consultation", sa.Column("sla_override_resolution_target", sa.Integer(), nullable=True)
    )
    op.add_column(
        "consultation",
        sa.Column("sla_override_first_response_target", sa.Integer(), nullable=True),
    )
    op.add_column(
        "consultation",
        sa.Column(
            "sla_override_basis", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
    )
    op.create_check_constraint(
        op.f("ck_consultation_sla_override_unit_values"),
        "consultation",
        "sla_override_unit IS NULL OR sla_override_unit IN"
        " ('working_days', 'working_hours', 'natural_days', 'months')",
    )
    op.create_check_constraint(
        op.f("ck_consultation_sla_override_complete"),
        "consultation",
        "(sla_override_unit IS NULL) = (sla_override_resolution_target IS NULL)"
        " AND (sla_override_unit IS NULL) = (sla_override_basis IS NULL)"
        " AND (sla_override_unit IS NOT NULL OR sla_override_first_response_target IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_consultation_sla_override_complete"), "consultation", type_="check")
    op.drop_constraint(
        op.f("ck_consultation_sla_override_unit_values"), "consultation", type_="check"
    )
    op.drop_column("consultation", "sla_override_basis")
    op.drop_column("consultation", "sla_override_first_response_target")
    op.drop_column("consultation", "sla_override_resolution_target")
    op.drop_column("consultation", "sla_override_unit")
