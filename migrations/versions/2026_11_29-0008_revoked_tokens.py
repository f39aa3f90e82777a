"""Revoked access tokens: the deny-list kept in the database so it survives a Redis restart.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_access_token",
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_access_token")),
    )
    op.create_index(
        op.f("ix_revoked_access_token_expires_at"),
        "revoked_access_token",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_revoked_access_token_expires_at"), table_name="revoked_access_token")
    op.drop_table("revoked_access_token")
