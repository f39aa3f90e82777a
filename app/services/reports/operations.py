"""Operational reports: SLA compliance, volumes, backlog, assistant deflection, satisfaction.

Working days in medians and p90 are counted like the SLA terms (Ley 39/2015 art. 30): from the
day after reception to the day of the response, Saturdays, Sundays and national and Extremadura
holidays excluded (local holidays are not), minus the working days the consultation waited on
the municipality (for resolution).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import invalid_field
from app.core.scoping import Actor
from app.schemas.indicators import (
    BacklogRow,
    OperationsReport,
    SatisfactionRow,
    SlaReport,
    SlaReportRow,
)
from app.services.indicators.labels import CHANNELS
from app.services.indicators.periods import Period
from app.services.indicators.service import period_out
from app.services.reports.scope import area_scope
from app.services.sla.working_days import official_holidays

GROUPS = {
    "area": "c.area_id::text",
    "service": "c.service_id::text",
    "channel": "c.channel",
    "month": "to_char(c.received_at AT TIME ZONE 'Europe/Madrid', 'YYYY-MM')",
}

DAYS_NOTE = (
    "Días hábiles desde el día siguiente a la recepción (sin sábados, domingos ni festivos"
    " nacionales y de Extremadura; los locales no se descuentan), menos los días en espera del"
    " municipio para la resolución."
)

_WORKING_DAYS = (
    "(SELECT count(*) FROM generate_series(({a} AT TIME ZONE 'Europe/Madrid')::date + 1,"
    " ({b} AT TIME ZONE 'Europe/Madrid')::date, interval '1 day') g"
    " WHERE extract(isodow FROM g) < 6 AND g::date <> ALL(CAST(:holidays AS date[])))"
)


def _holidays(period: Period) -> list[Any]:
    return sorted(official_holidays(range(period.first_day.year - 1, period.last_day.year + 2)))


def _scope_sql(area_id: uuid.UUID | None, alias: str = "c") -> str:
    return f" AND {alias}.area_id = :area_id" if area_id else ""


async def sla(session: AsyncSession, actor: Actor, period: Period, group_by: str) -> SlaReport:
    area_id, scope = area_scope(actor)
    if group_by not in GROUPS:
        raise invalid_field("group_by", "use area, service, channel o month", "query")
    key = GROUPS[group_by]
    first = _WORKING_DAYS.format(a="c.received_at", b="c.first_responded_at")
    resolution = _WORKING_DAYS.format(a="c.received_at", b="coalesce(c.answered_at, c.closed_at)")
    sql = f"""
        SELECT key, is_total, received, met, at_risk, breached,
               p50_first, p90_first, p50_res, p90_res
        FROM (
            SELECT {key} AS key, GROUPING({key}) AS is_total, count(*) AS received,
                   count(*) FILTER (WHERE c.sla_state = 'met') AS met,
                   count(*) FILTER (WHERE c.sla_state = 'warning') AS at_risk,
                   count(*) FILTER (WHERE c.sla_state = 'breached') AS breached,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY d.first_days) AS p50_first,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY d.first_days) AS p90_first,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY d.res_days) AS p50_res,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY d.res_days) AS p90_res
            FROM consultation c
            CROSS JOIN LATERAL (
                SELECT CASE WHEN c.first_responded_at IS NOT NULL THEN {first} END AS first_days,
                       CASE WHEN coalesce(c.answered_at, c.closed_at) IS NOT NULL
                            THEN greatest({resolution} - c.paused_working_days, 0) END AS res_days
            ) d
            WHERE c.received_at >= :start AND c.received_at < :end{_scope_sql(area_id)}
            GROUP BY GROUPING SETS ((), ({key}))
        ) s
        ORDER BY is_total DESC, key NULLS LAST
    """  # noqa: S608
    params = {**period.params(), "holidays": _holidays(period)}
    if area_id:
        params["area_id"] = area_id
    labels = await _labels(session, group_by)
    rows = []
    for r in (await session.execute(text(sql), params)).all():
        decided = int(r.met) + int(r.breached)
        total = bool(r.is_total)
        rows.append(
            SlaReportRow(
                group=None if total else r.key,
                label=None if total else labels.get(r.key or "", r.key or "Sin asignar"),
                received=int(r.received),
                met=int(r.met),
                at_risk=int(r.at_risk),
                breached=int(r.breached),
                compliance_pct=round(100.0 * int(r.met) / decided, 2) if decided else None,
                median_first_response_days=_num(r.p50_first),
                p90_first_response_days=_num(r.p90_first),
                median_resolution_days=_num(r.p50_res),
                p90_resolution_days=_num(r.p90_res),
            )
        )
    return SlaReport(
        group_by=group_by, period=period_out(period), scope=scope, days=DAYS_NOTE, rows=rows
    )


def _num(value: object) -> float | None:
    return None if value is None else round(float(value), 2)  # type: ignore[arg-type]


async def _labels(session: AsyncSession, group_by: str) -> dict[str, str]:
    if group_by == "area":
        rows = (await session.execute(text("SELECT id::text, name FROM area"))).all()
        return {"": "Oficina (sin derivar)", **{r[0]: r[1] for r in rows}}
    if group_by == "service":
        rows = (await session.execute(text("SELECT id::text, name FROM catalogue_service"))).all()
        return {"": "Sin servicio", **{r[0]: r[1] for r in rows}}
    if group_by == "channel":
        return dict(CHANNELS)
    return {}


BACKLOG_BUCKETS = (
    ("0-7 días", 0, 7),
    ("8-30 días", 8, 30),
    ("31-90 días", 31, 90),
    ("más de 90 días", 91, None),
)


async def operations(session: AsyncSession, actor: Actor, period: Period) -> OperationsReport:
    area_id, scope = area_scope(actor)
    params: dict[str, Any] = dict(period.params())
    if area_id:
        params["area_id"] = area_id
    where = f"c.received_at >= :start AND c.received_at < :end{_scope_sql(area_id)}"
    by_channel = {
        str(r[0]): int(r[1])
        for r in (
            await session.execute(
                text(f"SELECT c.channel, count(*) FROM consultation c WHERE {where} GROUP BY 1"),  # noqa: S608
                params,
            )
        ).all()
    }
    forwarded = {
        str(r[0]): int(r[1])
        for r in (
            await session.execute(
                text(
                    "SELECT a.name, count(DISTINCT c.id) FROM consultation_event e"  # noqa: S608
                    " JOIN consultation c ON c.id = e.consultation_id"
                    " JOIN area a ON a.id = c.area_id"
                    " WHERE e.to_status = 'forwarded' AND e.occurred_at >= :start"
                    f" AND e.occurred_at < :end{_scope_sql(area_id)} GROUP BY a.name"
                ),
                params,
            )
        ).all()
    }
    age = "(CAST(:today AS date) - (c.received_at AT TIME ZONE 'Europe/Madrid')::date)"
    buckets = ", ".join(
        f"count(*) FILTER (WHERE {age} >= {lo}" + (f" AND {age} <= {hi})" if hi else ")")
        for _, lo, hi in BACKLOG_BUCKETS
    )
    backlog_row = (
        await session.execute(
            text(
                f"SELECT {buckets} FROM consultation c WHERE c.status <> 'closed'"  # noqa: S608
                f" AND c.status <> 'answered'{_scope_sql(area_id)}"
            ),
            params,
        )
    ).one()
    backlog = [
        BacklogRow(age=name, open=int(backlog_row[i]))
        for i, (name, _, _) in enumerate(BACKLOG_BUCKETS)
    ]
    # The assistant answers the office's public questions; area staff do not see it.
    assistant = (0, 0)
    if area_id is None:
        row = (
            await session.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE answered) FROM assistant_query"
                    " WHERE created_at >= :start AND created_at < :end"
                ),
                params,
            )
        ).one()
        assistant = (int(row[0]), int(row[1]))
    satisfaction = await _satisfaction(session, params, area_id)
    return OperationsReport(
        period=period_out(period),
        scope=scope,
        received_by_channel=by_channel,
        forwarded_by_area=forwarded,
        backlog_by_age=backlog,
        assistant_queries=assistant[0],
        assistant_answered=assistant[1],
        assistant_deflection_pct=round(100.0 * assistant[1] / assistant[0], 2)
        if assistant[0]
        else None,
        satisfaction=satisfaction,
    )


SURVEY_DIMENSIONS = (
    ("attention", "Atención recibida"),
    ("process", "Proceso de tramitación seguido y plazos"),
    ("resolution", "Resolución de problemas"),
)


async def _satisfaction(
    session: AsyncSession, params: dict[str, Any], area_id: uuid.UUID | None
) -> list[SatisfactionRow]:
    out = []
    for column, name in SURVEY_DIMENSIONS:
        rows = (
            await session.execute(
                text(
                    f"SELECT s.{column} AS score, count(*) FROM satisfaction_survey s"  # noqa: S608
                    " WHERE s.answered_at >= :start AND s.answered_at < :end"
                    f"{_scope_sql(area_id, 's')} GROUP BY 1"
                ),
                params,
            )
        ).all()
        distribution = {str(i): 0 for i in range(1, 6)}
        for score, count in rows:
            distribution[str(score)] = int(count)
        responses = sum(distribution.values())
        mean = sum(int(k) * v for k, v in distribution.items()) / responses if responses else None
        out.append(
            SatisfactionRow(
                dimension=name,
                responses=responses,
                mean=round(mean, 2) if mean is not None else None,
                distribution=distribution,
            )
        )
    return out
