"""Expedientes: procedure types and stages, stage timeline, documents, related consultations, idempotency keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:27:05.112575+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "key", name=op.f("pk_idempotency_record")),
    )
    op.create_index(
        "ix_idempotency_record_expires", "idempotency_record", ["expires_at"], unique=False
    )
    op.create_table(
        "procedure_type",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("legal_term_days", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_procedure_type_area_id_area")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_type")),
        sa.UniqueConstraint("area_id", "code", name="uq_procedure_type_area_code"),
    )
    op.create_index(op.f("ix_procedure_type_area_id"), "procedure_type", ["area_id"], unique=False)
    op.create_table(
        "expediente",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("procedure_type_id", sa.Uuid(), nullable=False),
        sa.Column("external_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("current_stage_code", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
        sa.Column("current_stage_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stage_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stalled", sa.Boolean(), nullable=False),
        sa.Column("stalled_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_date", sa.Date(), nullable=True),
        sa.Column("deadline_is_legal", sa.Boolean(), nullable=False),
        sa.Column("source_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(external_ref, '') || ' ' || coalesce(title, ''))), 'A') || setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(description, ''))), 'B')",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'archived')", name=op.f("ck_expediente_status_values")
        ),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"], name=op.f("fk_expediente_area_id_area")),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_expediente_municipality_id_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["procedure_type_id"],
            ["procedure_type.id"],
            name=op.f("fk_expediente_procedure_type_id_procedure_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expediente")),
        sa.UniqueConstraint("area_id", "external_ref", name="uq_expediente_area_external_ref"),
    )
    op.create_index(
        "ix_expediente_area",
        "expediente",
        ["area_id", sa.literal_column("opened_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_expediente_deadline",
        "expediente",
        ["deadline_date"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_expediente_municipality",
        "expediente",
        ["municipality_id", sa.literal_column("opened_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_expediente_opened",
        "expediente",
        [sa.literal_column("opened_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        op.f("ix_expediente_procedure_type_id"), "expediente", ["procedure_type_id"], unique=False
    )
    op.create_index(
        "ix_expediente_search",
        "expediente",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_expediente_stage_due",
        "expediente",
        ["stage_due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open' AND NOT stalled AND stage_due_at IS NOT NULL"),
    )
    op.create_index(
        "ix_expediente_stalled",
        "expediente",
        ["stalled_since"],
        unique=False,
        postgresql_where=sa.text("stalled"),
    )
    op.create_table(
        "stage_definition",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("procedure_type_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("expected_working_days", sa.Integer(), nullable=True),
        sa.Column("waits_on_municipality", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["procedure_type_id"],
            ["procedure_type.id"],
            name=op.f("fk_stage_definition_procedure_type_id_procedure_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_definition")),
        sa.UniqueConstraint("procedure_type_id", "code", name="uq_stage_definition_code"),
        sa.UniqueConstraint("procedure_type_id", "position", name="uq_stage_definition_position"),
    )
    op.create_table(
        "expediente_document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("expediente_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("verification_code", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["expediente_id"],
            ["expediente.id"],
            name=op.f("fk_expediente_document_expediente_id_expediente"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expediente_document")),
        sa.UniqueConstraint("expediente_id", "url", name="uq_expediente_document_url"),
    )
    op.create_index(
        op.f("ix_expediente_document_expediente_id"),
        "expediente_document",
        ["expediente_id"],
        unique=False,
    )
    op.create_table(
        "expediente_stage_entry",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("expediente_id", sa.Uuid(), nullable=False),
        sa.Column("stage_code", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("stage_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_label", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("external_event_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["expediente_id"],
            ["expediente.id"],
            name=op.f("fk_expediente_stage_entry_expediente_id_expediente"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expediente_stage_entry")),
        sa.UniqueConstraint("expediente_id", "external_event_id", name="uq_stage_entry_event"),
    )
    op.create_index(
        "ix_stage_entry_timeline",
        "expediente_stage_entry",
        ["expediente_id", "entered_at", "id"],
        unique=False,
    )
    op.create_table(
        "expediente_consultation",
        sa.Column("expediente_id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_expediente_consultation_consultation_id_consultation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["expediente_id"],
            ["expediente.id"],
            name=op.f("fk_expediente_consultation_expediente_id_expediente"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "expediente_id", "consultation_id", name=op.f("pk_expediente_consultation")
        ),
    )
    op.create_index(
        op.f("ix_expediente_consultation_consultation_id"),
        "expediente_consultation",
        ["consultation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_expediente_consultation_consultation_id"), table_name="expediente_consultation"
    )
    op.drop_table("expediente_consultation")
    op.drop_index("ix_stage_entry_timeline", table_name="expediente_stage_entry")
    op.drop_table("expediente_stage_entry")
    op.drop_index(op.f("ix_expediente_document_expediente_id"), table_name="expediente_document")
    op.drop_table("expediente_document")
    op.drop_table("stage_definition")
    op.drop_index(
        "ix_expediente_stalled", table_name="expediente", postgresql_where=sa.text("stalled")
    )
    op.drop_index(
        "ix_expediente_stage_due",
        table_name="expediente",
        postgresql_where=sa.text("status = 'open' AND NOT stalled AND stage_due_at IS NOT NULL"),
    )
    op.drop_index("ix_expediente_search", table_name="expediente", postgresql_using="gin")
    op.drop_index(op.f("ix_expediente_procedure_type_id"), table_name="expediente")
    op.drop_index("ix_expediente_opened", table_name="expediente")
    op.drop_index("ix_expediente_municipality", table_name="expediente")
    op.drop_index(
        "ix_expediente_deadline",
        table_name="expediente",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_expediente_area", table_name="expediente")
    op.drop_table("expediente")
    op.drop_index(op.f("ix_procedure_type_area_id"), table_name="procedure_type")
    op.drop_table("procedure_type")
    op.drop_index("ix_idempotency_record_expires", table_name="idempotency_record")
    op.drop_table("idempotency_record")
