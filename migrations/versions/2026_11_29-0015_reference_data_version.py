"""A version number of the reference data SLA clocks read (holidays, policies, áreas' seats,
municipalities), raised by triggers in the writing transaction, so that processes can keep
that data in memory and notice any change at their next read of the number.

Revision ID: 0015_refdata
Revises: 0014
Create Date: 2026-11-29 16:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_refdata"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("holiday", "sla_policy", "area", "municipality")


def upgrade() -> None:
    op.create_table(
        "reference_data_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_data_version")),
    )
    op.execute("INSERT INTO reference_data_version (id, version) VALUES (1, 0)")
    # Numbers from a sequence, which never hands out a value twice: a version seen inside a
    # transaction that then rolled back is never reused for other data.
    op.execute("CREATE SEQUENCE reference_data_version_seq")
    op.execute(
        """
        CREATE FUNCTION oaaa_reference_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE reference_data_version
            SET version = nextval('reference_data_version_seq') WHERE id = 1;
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_reference_data_changed "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION oaaa_reference_data_changed()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_reference_data_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS oaaa_reference_data_changed()")
    op.drop_table("reference_data_version")
    op.execute("DROP SEQUENCE IF EXISTS reference_data_version_seq")
