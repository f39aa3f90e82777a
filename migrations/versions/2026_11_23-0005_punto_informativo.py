"""Punto Informativo: calendar entries, registrations, feed tokens, announcements, newsletter, training, visits.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 01:57:34.460253+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("page", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('web', 'in_person')", name=op.f("ck_visit_daily_channel_values")
        ),
        sa.PrimaryKeyConstraint("day", "page", "channel", name=op.f("pk_visit_daily")),
    )
    op.create_table(
        "training_action",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("modality", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("hours", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
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
            "modality IN ('in_person', 'online', 'hybrid')",
            name=op.f("ck_training_action_modality_values"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_training_action_area_id_area")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_action")),
    )
    op.create_table(
        "training_attendance",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("training_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("attended_hours", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_training_attendance_municipality_id_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["training_action.id"],
            name=op.f("fk_training_attendance_training_id_training_action"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_attendance")),
    )
    op.create_index(
        op.f("ix_training_attendance_training_id"),
        "training_attendance",
        ["training_id"],
        unique=False,
    )
    op.create_table(
        "training_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("training_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["training_action.id"],
            name=op.f("fk_training_session_training_id_training_action"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_session")),
    )
    op.create_index(
        op.f("ix_training_session_training_id"), "training_session", ["training_id"], unique=False
    )
    op.create_table(
        "announcement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("comarca_id", sa.Uuid(), nullable=True),
        sa.Column("municipality_ids", sa.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
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
            "audience IN ('all', 'comarca', 'municipalities')",
            name=op.f("ck_announcement_audience_values"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'cancelled')",
            name=op.f("ck_announcement_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_announcement_area_id_area")
        ),
        sa.ForeignKeyConstraint(
            ["comarca_id"], ["comarca.id"], name=op.f("fk_announcement_comarca_id_comarca")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_announcement_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
    )
    op.create_index(
        "ix_announcement_published",
        "announcement",
        [sa.literal_column("published_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_table(
        "calendar_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("modality", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("online_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("comarca_id", sa.Uuid(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("registration_required", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("registration_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rrule", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("exdates", sa.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("application_opens_on", sa.Date(), nullable=True),
        sa.Column("application_closes_on", sa.Date(), nullable=True),
        sa.Column("closing_term_working_days", sa.Integer(), nullable=True),
        sa.Column("bulletin_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("budget", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("beneficiaries", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("reminder_working_days", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
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
            "audience <> 'comarca' OR comarca_id IS NOT NULL",
            name=op.f("ck_calendar_entry_comarca_given"),
        ),
        sa.CheckConstraint(
            "audience IN ('all', 'comarca', 'municipalities')",
            name=op.f("ck_calendar_entry_audience_values"),
        ),
        sa.CheckConstraint(
            "kind IN ('event', 'grant_call', 'participation', 'announcement')",
            name=op.f("ck_calendar_entry_kind_values"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'cancelled')",
            name=op.f("ck_calendar_entry_status_values"),
        ),
        sa.CheckConstraint("ends_at >= starts_at", name=op.f("ck_calendar_entry_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_calendar_entry_area_id_area")
        ),
        sa.ForeignKeyConstraint(
            ["comarca_id"], ["comarca.id"], name=op.f("fk_calendar_entry_comarca_id_comarca")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_calendar_entry_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_entry")),
    )
    op.create_index(op.f("ix_calendar_entry_area_id"), "calendar_entry", ["area_id"], unique=False)
    op.create_index(
        "ix_calendar_entry_closing", "calendar_entry", ["application_closes_on"], unique=False
    )
    op.create_index(
        "ix_calendar_entry_range", "calendar_entry", ["starts_at", "ends_at"], unique=False
    )
    op.create_index(
        "ix_calendar_entry_recurring",
        "calendar_entry",
        ["starts_at"],
        unique=False,
        postgresql_where=sa.text("rrule IS NOT NULL"),
    )
    op.create_index(op.f("ix_calendar_entry_status"), "calendar_entry", ["status"], unique=False)
    op.create_table(
        "feed_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_feed_token_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_feed_token_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feed_token_token_hash")),
    )
    op.create_index(
        op.f("ix_feed_token_municipality_id"), "feed_token", ["municipality_id"], unique=False
    )
    op.create_table(
        "newsletter_dispatch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quarter", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("to_address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_newsletter_dispatch_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newsletter_dispatch")),
        sa.UniqueConstraint("quarter", "user_id", name="uq_newsletter_dispatch"),
    )
    op.create_table(
        "announcement_read",
        sa.Column("announcement_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "read_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_announcement_read_announcement_id_announcement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_announcement_read_municipality_id_municipality"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_announcement_read_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint(
            "announcement_id", "municipality_id", name=op.f("pk_announcement_read")
        ),
    )
    op.create_table(
        "calendar_entry_municipality",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["calendar_entry.id"],
            name=op.f("fk_calendar_entry_municipality_entry_id_calendar_entry"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_calendar_entry_municipality_municipality_id_municipality"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "entry_id", "municipality_id", name=op.f("pk_calendar_entry_municipality")
        ),
    )
    op.create_index(
        op.f("ix_calendar_entry_municipality_municipality_id"),
        "calendar_entry_municipality",
        ["municipality_id"],
        unique=False,
    )
    op.create_table(
        "event_registration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("attendee_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("attendee_role", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("attendee_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('registered', 'cancelled')",
            name=op.f("ck_event_registration_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_event_registration_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["calendar_entry.id"],
            name=op.f("fk_event_registration_entry_id_calendar_entry"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_event_registration_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_registration")),
    )
    op.create_index(
        "ix_event_registration_active",
        "event_registration",
        ["entry_id", "occurrence_start"],
        unique=False,
        postgresql_where=sa.text("status = 'registered'"),
    )
    op.create_index(
        op.f("ix_event_registration_municipality_id"),
        "event_registration",
        ["municipality_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_event_registration_municipality_id"), table_name="event_registration")
    op.drop_index(
        "ix_event_registration_active",
        table_name="event_registration",
        postgresql_where=sa.text("status = 'registered'"),
    )
    op.drop_table("event_registration")
    op.drop_index(
        op.f("ix_calendar_entry_municipality_municipality_id"),
        table_name="calendar_entry_municipality",
    )
    op.drop_table("calendar_entry_municipality")
    op.drop_table("announcement_read")
    op.drop_table("newsletter_dispatch")
    op.drop_index(op.f("ix_feed_token_municipality_id"), table_name="feed_token")
    op.drop_table("feed_token")
    op.drop_index(op.f("ix_calendar_entry_status"), table_name="calendar_entry")
    op.drop_index(
        "ix_calendar_entry_recurring",
        table_name="calendar_entry",
        postgresql_where=sa.text("rrule IS NOT NULL"),
    )
    op.drop_index("ix_calendar_entry_range", table_name="calendar_entry")
    op.drop_index("ix_calendar_entry_closing", table_name="calendar_entry")
    op.drop_index(op.f("ix_calendar_entry_area_id"), table_name="calendar_entry")
    op.drop_table("calendar_entry")
    op.drop_index("ix_announcement_published", table_name="announcement")
    op.drop_table("announcement")
    op.drop_index(op.f("ix_training_session_training_id"), table_name="training_session")
    op.drop_table("training_session")
    op.drop_index(op.f("ix_training_attendance_training_id"), table_name="training_attendance")
    op.drop_table("training_attendance")
    op.drop_table("training_action")
    op.drop_table("visit_daily")
