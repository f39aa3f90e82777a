"""Consultations with SLA policies and holidays, FAQ assistant, surveys and suggestions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:43:51.216107+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # unaccent() is STABLE (it reads a dictionary); generated columns and indexes need an
    # IMMUTABLE function, so pin the dictionary explicitly.
    op.execute(
        """
        CREATE FUNCTION oaaa_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
        """
    )
    # array_to_string() is STABLE in general; for text[] it is immutable.
    op.execute(
        """
        CREATE FUNCTION oaaa_join_text(text[]) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT coalesce(array_to_string($1, ' '), '') $$
        """
    )
    op.create_table(
        "reference_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_reference_counter")),
    )
    op.create_table(
        "faq_entry",
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("tags", sa.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "question_normalized", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(question, ''))), 'A') || setweight(to_tsvector('spanish', oaaa_unaccent(oaaa_join_text(tags))), 'B') || setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(answer, ''))), 'C')",
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
        sa.ForeignKeyConstraint(["area_id"], ["area.id"], name=op.f("fk_faq_entry_area_id_area")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["catalogue_service.id"],
            name=op.f("fk_faq_entry_service_id_catalogue_service"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entry")),
    )
    op.create_index(
        "ix_faq_entry_question_trgm",
        "faq_entry",
        ["question_normalized"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"question_normalized": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_faq_entry_search", "faq_entry", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "holiday",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("is_holiday", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_holiday_municipality_id_municipality"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday")),
    )
    op.create_index(
        "uq_holiday_municipality_day",
        "holiday",
        ["municipality_id", "day"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "sla_policy",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("first_response_target", sa.Integer(), nullable=False),
        sa.Column("resolution_target", sa.Integer(), nullable=False),
        sa.Column("warning_thresholds", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
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
        sa.CheckConstraint(
            "unit IN ('working_days', 'working_hours')", name=op.f("ck_sla_policy_unit_values")
        ),
        sa.CheckConstraint(
            "first_response_target <= resolution_target", name=op.f("ck_sla_policy_targets_order")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["catalogue_service.id"],
            name=op.f("fk_sla_policy_service_id_catalogue_service"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policy")),
        sa.UniqueConstraint("code", name=op.f("uq_sla_policy_code")),
    )
    op.create_index(
        "uq_sla_policy_default",
        "sla_policy",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default AND is_active"),
    )
    op.create_index(
        "uq_sla_policy_match",
        "sla_policy",
        ["service_id", "priority"],
        unique=True,
        postgresql_where=sa.text("is_active AND (service_id IS NOT NULL OR priority IS NOT NULL)"),
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "consultation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("access_code_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("sla_policy_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("status_before_wait", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("waiting_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("requester_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("requester_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("requester_phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_working_days", sa.Integer(), nullable=False),
        sa.Column("paused_working_seconds", sa.Float(), nullable=False),
        sa.Column("sla_state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sla_next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(reference, '') || ' ' || coalesce(subject, ''))), 'A') || setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(body, ''))), 'B')",
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
            "priority IN ('low', 'normal', 'high', 'urgent')",
            name=op.f("ck_consultation_priority_values"),
        ),
        sa.CheckConstraint(
            "sla_state IN ('on_track', 'warning', 'breached', 'met', 'paused')",
            name=op.f("ck_consultation_sla_state_values"),
        ),
        sa.CheckConstraint(
            "status <> 'forwarded' OR area_id IS NOT NULL",
            name=op.f("ck_consultation_forwarded_has_area"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'in_progress', 'forwarded', 'waiting_on_municipality', 'answered', 'closed')",
            name=op.f("ck_consultation_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_consultation_area_id_area")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_consultation_assignee_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_consultation_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_consultation_municipality_id_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["catalogue_service.id"],
            name=op.f("fk_consultation_service_id_catalogue_service"),
        ),
        sa.ForeignKeyConstraint(
            ["sla_policy_id"],
            ["sla_policy.id"],
            name=op.f("fk_consultation_sla_policy_id_sla_policy"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation")),
        sa.UniqueConstraint("reference", name=op.f("uq_consultation_reference")),
    )
    op.create_index(
        "ix_consultation_area_due",
        "consultation",
        ["area_id", "resolution_due_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_consultation_assignee_id"), "consultation", ["assignee_id"], unique=False
    )
    op.create_index(
        "ix_consultation_municipality_open",
        "consultation",
        ["municipality_id", sa.literal_column("received_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_index(
        "ix_consultation_received",
        "consultation",
        [sa.literal_column("received_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_consultation_search",
        "consultation",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_consultation_sla_next_check",
        "consultation",
        ["sla_next_check_at"],
        unique=False,
        postgresql_where=sa.text("sla_next_check_at IS NOT NULL"),
    )
    op.create_index(
        "ix_consultation_sla_state",
        "consultation",
        ["sla_state", "resolution_due_at"],
        unique=False,
    )
    op.create_index(
        "ix_consultation_triage",
        "consultation",
        ["resolution_due_at", "id"],
        unique=False,
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_table(
        "suggestion",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("public_answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
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
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_suggestion_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_suggestion_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion")),
    )
    op.create_index(
        op.f("ix_suggestion_municipality_id"), "suggestion", ["municipality_id"], unique=False
    )
    op.create_index(op.f("ix_suggestion_status"), "suggestion", ["status"], unique=False)
    op.create_table(
        "assistant_query",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("best_faq_id", sa.Uuid(), nullable=True),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("municipality_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("consultation_id", sa.Uuid(), nullable=True),
        sa.Column("feedback", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_faq_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["best_faq_id"],
            ["faq_entry.id"],
            name=op.f("fk_assistant_query_best_faq_id_faq_entry"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_assistant_query_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_assistant_query_municipality_id_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_faq_id"],
            ["faq_entry.id"],
            name=op.f("fk_assistant_query_resolved_by_faq_id_faq_entry"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_assistant_query_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_query")),
    )
    op.create_index(
        "ix_assistant_query_unanswered", "assistant_query", ["answered", "created_at"], unique=False
    )
    op.create_table(
        "consultation_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_label", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consultation_event_consultation_id_consultation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_event")),
    )
    op.create_index(
        "ix_consultation_event_consultation",
        "consultation_event",
        ["consultation_id", "id"],
        unique=False,
    )
    op.create_table(
        "consultation_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("visibility", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("author_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_label", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("from_office", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "visibility IN ('public', 'internal')",
            name=op.f("ck_consultation_message_visibility_values"),
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consultation_message_consultation_id_consultation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_message")),
    )
    op.create_index(
        "ix_consultation_message_consultation",
        "consultation_message",
        ["consultation_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "satisfaction_survey",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("attention", sa.Integer(), nullable=False),
        sa.Column("process", sa.Integer(), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("via_link", sa.Boolean(), nullable=False),
        sa.Column("respondent_id", sa.Uuid(), nullable=True),
        sa.Column(
            "answered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "attention BETWEEN 1 AND 5", name=op.f("ck_satisfaction_survey_attention_range")
        ),
        sa.CheckConstraint(
            "process BETWEEN 1 AND 5", name=op.f("ck_satisfaction_survey_process_range")
        ),
        sa.CheckConstraint(
            "resolution BETWEEN 1 AND 5", name=op.f("ck_satisfaction_survey_resolution_range")
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_satisfaction_survey_area_id_area")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_satisfaction_survey_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_satisfaction_survey_municipality_id_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["respondent_id"],
            ["user_account.id"],
            name=op.f("fk_satisfaction_survey_respondent_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["catalogue_service.id"],
            name=op.f("fk_satisfaction_survey_service_id_catalogue_service"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satisfaction_survey")),
        sa.UniqueConstraint("consultation_id", name=op.f("uq_satisfaction_survey_consultation_id")),
    )
    op.create_index(
        op.f("ix_satisfaction_survey_area_id"), "satisfaction_survey", ["area_id"], unique=False
    )
    op.create_index(
        op.f("ix_satisfaction_survey_municipality_id"),
        "satisfaction_survey",
        ["municipality_id"],
        unique=False,
    )
    op.create_foreign_key(
        "fk_catalogue_service_default_sla_policy_id_sla_policy",
        "catalogue_service",
        "sla_policy",
        ["default_sla_policy_id"],
        ["id"],
        ondelete="SET NULL",
        use_alter=True,
    )
    # The office's general policy, so every consultation has due dates; admins tune it.
    op.execute(
        "INSERT INTO sla_policy (id, code, name, unit, first_response_target, resolution_target,"
        " warning_thresholds, is_default, is_active, created_at, updated_at) VALUES"
        " ('6f1d3c2e-0000-4000-8000-000000000001', 'general', 'Política general de la oficina',"
        " 'working_days', 2, 10, '{50,80}', true, true, now(), now())"
    )


def downgrade() -> None:
    op.drop_constraint(
        "fk_catalogue_service_default_sla_policy_id_sla_policy",
        "catalogue_service",
        type_="foreignkey",
    )
    op.drop_index(op.f("ix_satisfaction_survey_municipality_id"), table_name="satisfaction_survey")
    op.drop_index(op.f("ix_satisfaction_survey_area_id"), table_name="satisfaction_survey")
    op.drop_table("satisfaction_survey")
    op.drop_index("ix_consultation_message_consultation", table_name="consultation_message")
    op.drop_table("consultation_message")
    op.drop_index("ix_consultation_event_consultation", table_name="consultation_event")
    op.drop_table("consultation_event")
    op.drop_index("ix_assistant_query_unanswered", table_name="assistant_query")
    op.drop_table("assistant_query")
    op.drop_index(op.f("ix_suggestion_status"), table_name="suggestion")
    op.drop_index(op.f("ix_suggestion_municipality_id"), table_name="suggestion")
    op.drop_table("suggestion")
    op.drop_index(
        "ix_consultation_triage",
        table_name="consultation",
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.drop_index("ix_consultation_sla_state", table_name="consultation")
    op.drop_index(
        "ix_consultation_sla_next_check",
        table_name="consultation",
        postgresql_where=sa.text("sla_next_check_at IS NOT NULL"),
    )
    op.drop_index("ix_consultation_search", table_name="consultation", postgresql_using="gin")
    op.drop_index("ix_consultation_received", table_name="consultation")
    op.drop_index(
        "ix_consultation_municipality_open",
        table_name="consultation",
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.drop_index(op.f("ix_consultation_assignee_id"), table_name="consultation")
    op.drop_index("ix_consultation_area_due", table_name="consultation")
    op.drop_table("consultation")
    op.drop_index(
        "uq_sla_policy_match",
        table_name="sla_policy",
        postgresql_where=sa.text("is_active AND (service_id IS NOT NULL OR priority IS NOT NULL)"),
        postgresql_nulls_not_distinct=True,
    )
    op.drop_index(
        "uq_sla_policy_default",
        table_name="sla_policy",
        postgresql_where=sa.text("is_default AND is_active"),
    )
    op.drop_table("sla_policy")
    op.drop_index(
        "uq_holiday_municipality_day", table_name="holiday", postgresql_nulls_not_distinct=True
    )
    op.drop_table("holiday")
    op.drop_index("ix_faq_entry_search", table_name="faq_entry", postgresql_using="gin")
    op.drop_index(
        "ix_faq_entry_question_trgm",
        table_name="faq_entry",
        postgresql_using="gin",
        postgresql_ops={"question_normalized": "gin_trgm_ops"},
    )
    op.drop_table("faq_entry")
    op.drop_table("reference_counter")
    op.execute("DROP FUNCTION IF EXISTS oaaa_join_text(text[])")
    op.execute("DROP FUNCTION IF EXISTS oaaa_unaccent(text)")
