"""Indicators: the office's publication state of each indicator, and the monthly aggregates
(materialised views the worker refreshes) that make the whole catalogue for a year answer fast
at province scale.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 14:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_MONTH = "date_trunc('month', {} AT TIME ZONE 'Europe/Madrid')::date"

# Training actions with the day they were held: their first session, or their start date.
_HELD = """
    SELECT t.id, coalesce((f.first_at AT TIME ZONE 'Europe/Madrid')::date, t.starts_on) AS day
    FROM training_action t
    LEFT JOIN LATERAL (
        SELECT min(s.starts_at) AS first_at FROM training_session s WHERE s.training_id = t.id
    ) f ON true
"""

VIEWS = [
    # Consultations received per month (Europe/Madrid) by entity, by channel and by área ('' =
    # none): one row per month and value of each disaggregation.
    f"""
    CREATE MATERIALIZED VIEW indicator_consultation_month AS
    SELECT s.month, s.dim, s.key, count(*) AS n
    FROM (
        SELECT {_MONTH.format("c.received_at")} AS month, d.dim, d.key
        FROM consultation c
        CROSS JOIN LATERAL (VALUES ('municipality', c.municipality_id::text),
                                   ('channel', c.channel),
                                   ('area', coalesce(c.area_id::text, ''))) AS d (dim, key)
    ) s
    GROUP BY s.month, s.dim, s.key
    """,  # noqa: S608
    "CREATE UNIQUE INDEX ux_indicator_consultation_month"
    " ON indicator_consultation_month (month, dim, key)",
    # Entities that used the office each month (the counting rule of oaaa-17-17-entidades).
    f"""
    CREATE MATERIALIZED VIEW indicator_entity_month AS
    SELECT DISTINCT u.month, u.municipality_id
    FROM (
        SELECT {_MONTH.format("c.received_at")} AS month, c.municipality_id FROM consultation c
        UNION
        SELECT {_MONTH.format("e.opened_at")}, e.municipality_id FROM expediente e
        UNION
        SELECT {_MONTH.format("r.created_at")}, r.municipality_id FROM event_registration r
        WHERE r.status = 'registered'
        UNION
        SELECT date_trunc('month', held.day)::date, a.municipality_id
        FROM training_attendance a
        JOIN ({_HELD}) held ON held.id = a.training_id
        WHERE a.municipality_id IS NOT NULL
          AND held.day <= (now() AT TIME ZONE 'Europe/Madrid')::date
    ) u
    """,  # noqa: S608
    "CREATE UNIQUE INDEX ux_indicator_entity_month"
    " ON indicator_entity_month (month, municipality_id)",
    # Consultations forwarded to an área, by the month of their first forwarding, the área
    # that holds them and whole days from reception to answer (-1: not answered yet).
    f"""
    CREATE MATERIALIZED VIEW indicator_forwarded_month AS
    SELECT {_MONTH.format("f.first_at")} AS month, c.area_id,
           CASE WHEN coalesce(c.answered_at, c.closed_at) IS NULL THEN -1
                ELSE greatest(floor(extract(epoch FROM coalesce(c.answered_at, c.closed_at)
                                        - c.received_at) / 86400), 0)::int END AS days,
           count(*) AS n
    FROM (
        SELECT e.consultation_id, min(e.occurred_at) AS first_at FROM consultation_event e
        WHERE e.to_status = 'forwarded' GROUP BY e.consultation_id
    ) f
    JOIN consultation c ON c.id = f.consultation_id
    WHERE c.area_id IS NOT NULL
    GROUP BY 1, 2, 3
    """,  # noqa: S608
    "CREATE UNIQUE INDEX ux_indicator_forwarded_month"
    " ON indicator_forwarded_month (month, area_id, days)",
    # Distinct people trained per month (the counting rule of aue-10-4-2; entity '' = none).
    f"""
    CREATE MATERIALIZED VIEW indicator_person_month AS
    SELECT DISTINCT date_trunc('month', held.day)::date AS month,
           coalesce(a.municipality_id::text, '') AS entity,
           coalesce(a.municipality_id::text, '-') || '|' ||
           coalesce(nullif(lower(regexp_replace(btrim(oaaa_unaccent(a.name)), '\\s+', ' ', 'g')),
                    ''), 'asistencia:' || a.id::text) AS person
    FROM training_attendance a
    JOIN ({_HELD}) held ON held.id = a.training_id
    WHERE held.day <= (now() AT TIME ZONE 'Europe/Madrid')::date
    """,  # noqa: S608
    "CREATE UNIQUE INDEX ux_indicator_person_month ON indicator_person_month (month, person)",
    # Survey answers per month by entity and by área: counts and sums of each dimension.
    f"""
    CREATE MATERIALIZED VIEW indicator_survey_month AS
    SELECT s.month, s.dim, s.key, count(*) AS n, sum(s.attention) AS sa, sum(s.process) AS sp,
           sum(s.resolution) AS sr
    FROM (
        SELECT {_MONTH.format("v.answered_at")} AS month, d.dim, d.key, v.attention, v.process,
               v.resolution
        FROM satisfaction_survey v
        CROSS JOIN LATERAL (VALUES ('municipality', v.municipality_id::text),
                                   ('area', coalesce(v.area_id::text, ''))) AS d (dim, key)
    ) s
    GROUP BY s.month, s.dim, s.key
    """,  # noqa: S608
    "CREATE UNIQUE INDEX ux_indicator_survey_month ON indicator_survey_month (month, dim, key)",
    "CREATE MATERIALIZED VIEW indicator_refresh AS SELECT now() AS refreshed_at",
    # The median of values given with their weights, as percentile_cont(0.5) computes it over
    # the expanded values (NULL values are ignored; NULL when there are none).
    """
    CREATE FUNCTION oaaa_weighted_median(vals integer[], weights bigint[]) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS $$
        WITH v AS (
            SELECT t.val, t.w FROM unnest(vals, weights) AS t (val, w)
            WHERE t.val IS NOT NULL AND t.w > 0
        ), tot AS (SELECT sum(w) AS n FROM v),
        c AS (SELECT val, sum(w) OVER (ORDER BY val) AS cum FROM v)
        SELECT CASE WHEN (SELECT n FROM tot) IS NULL THEN NULL ELSE
            ((SELECT min(val) FROM c WHERE cum > floor(((SELECT n FROM tot) - 1) / 2.0))
             + (SELECT min(val) FROM c WHERE cum > ceil(((SELECT n FROM tot) - 1) / 2.0)))
            / 2.0 END
    $$
    """,
]


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
    for statement in VIEWS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW IF EXISTS indicator_refresh")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS indicator_survey_month")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS indicator_person_month")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS indicator_forwarded_month")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS indicator_entity_month")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS indicator_consultation_month")
    op.execute("DROP FUNCTION IF EXISTS oaaa_weighted_median(integer[], bigint[])")
    op.drop_table("indicator_publication")
