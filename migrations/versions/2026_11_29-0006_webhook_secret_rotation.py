"""Webhook secret rotation: the replaced secret keeps signing until an overlap ends.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 10:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_subscription",
        sa.Column("previous_secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    )
    op.add_column(
        "webhook_subscription",
        sa.Column("previous_secret_valid_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("webhook_subscription", "previous_secret_valid_until")
    op.drop_column("webhook_subscription", "previous_secret")
