"""The indicators as the API serves them: catalogue, metadata and figures for each caller."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.core import audit
from app.core.config import get_settings
from app.core.errors import Forbidden, NotFound, invalid_field
from app.core.scoping import Actor
from app.models.indicator import IndicatorPublication
from app.schemas.indicators import (
    IndicatorData,
    IndicatorDataRow,
    IndicatorMeta,
    IndicatorPeriod,
    IndicatorSeries,
    PublicationUpdate,
)
from app.services.indicators import disclosure
from app.services.indicators.catalogue import (
    BY_ID,
    CATALOGUE,
    Dimension,
    Indicator,
    SeriesKind,
)
from app.services.indicators.computation import (
    Cell,
    References,
    compute,
    load_references,
    query_for,
)
from app.services.indicators.labels import PROVINCE_CODE, geo_code, label
from app.services.indicators.periods import Period
from app.services.indicators.refresh import refreshed_at

FRESHNESS_LIVE = "Cifras calculadas en el momento de la petición (en vivo)."
FRESHNESS_ROLLUP = (
    "Meses, trimestres y años: agregados mensuales que el servicio recalcula cada {minutes}"
    " minutos (última actualización en «last_update»). Intervalos de días: en vivo."
)


def is_staff_view(actor: Actor) -> bool:
    """The office sees every indicator and every figure; everyone else, the public view."""
    return actor.is_office


async def _publication(session: AsyncSession) -> dict[str, IndicatorPublication]:
    rows = (await session.execute(select(IndicatorPublication))).scalars().all()
    return {r.indicator_id: r for r in rows}


def _state(ind: Indicator, overrides: dict[str, IndicatorPublication]) -> tuple[bool, str]:
    row = overrides.get(ind.id)
    if row is None:
        return ind.published, ind.reporting_status
    return row.published, row.reporting_status


def _meta(
    ind: Indicator, published: bool, status: str, staff: bool, refreshed: datetime
) -> IndicatorMeta:
    dims = ind.dimensions if staff else ind.public_dimensions
    if ind.rollup is not None:
        minutes = get_settings().indicators_refresh_minutes
        freshness, last_update = FRESHNESS_ROLLUP.format(minutes=minutes), refreshed
    else:
        freshness, last_update = FRESHNESS_LIVE, datetime.now(UTC)
    return IndicatorMeta(
        id=ind.id,
        name=ind.name,
        definition=ind.definition,
        aligned_with=ind.aligned_with,
        framework=ind.framework,  # type: ignore[arg-type]
        unit=ind.unit,
        counting_rule=ind.counting_rule,
        numerator=ind.numerator,
        denominator=ind.denominator,
        source=ind.source,
        periodicity=ind.periodicity,
        reporting_status=status,  # type: ignore[arg-type]
        published=published,
        last_update=last_update,
        freshness=freshness,
        series=[
            IndicatorSeries(id=s.id, name=s.name, unit=s.unit, total_only=s.total_only)
            for s in ind.series
        ],
        disaggregations=[d.value for d in dims],
        default_disaggregation=ind.default_dimension.value if ind.default_dimension else None,
        disclosure_rule=disclosure.RULE if ind.disclosure_control else None,
        method_note=ind.method_note,
        query=query_for(ind, None),
        aggregate_query=query_for(ind, None, rollup=True) if ind.rollup else None,
    )


async def visible(session: AsyncSession, actor: Actor) -> list[tuple[Indicator, bool, str]]:
    overrides = await _publication(session)
    staff = is_staff_view(actor)
    out = []
    for ind in CATALOGUE:
        published, status = _state(ind, overrides)
        if published or staff:
            out.append((ind, published, status))
    return out


async def catalogue(session: AsyncSession, actor: Actor) -> list[IndicatorMeta]:
    staff = is_staff_view(actor)
    refreshed = await refreshed_at(session)
    return [_meta(i, p, s, staff, refreshed) for i, p, s in await visible(session, actor)]


async def get(
    session: AsyncSession, actor: Actor, indicator_id: str
) -> tuple[Indicator, IndicatorMeta]:
    for ind, published, status in await visible(session, actor):
        if ind.id == indicator_id:
            refreshed = await refreshed_at(session)
            return ind, _meta(ind, published, status, is_staff_view(actor), refreshed)
    raise NotFound("El indicador no existe o no está publicado")


def dimensions_for(ind: Indicator, actor: Actor, requested: list[str] | None) -> list[Dimension]:
    if requested is None:
        return [ind.default_dimension] if ind.default_dimension else []
    out: list[Dimension] = []
    for raw in requested:
        if raw in ("", "total"):
            continue
        try:
            dim = Dimension(raw)
        except ValueError:
            raise invalid_field(
                "disaggregation",
                f"desagregación desconocida «{raw[:40]}»; use: "
                + ", ".join(d.value for d in ind.dimensions),
                "query",
            ) from None
        if dim not in ind.dimensions:
            raise invalid_field(
                "disaggregation",
                f"este indicador no se desagrega por {dim.value}; use: "
                + ", ".join(d.value for d in ind.dimensions),
                "query",
            )
        if dim in ind.staff_dimensions and not is_staff_view(actor):
            raise Forbidden(
                f"La desagregación por {dim.value} sólo está disponible para la Oficina"
            )
        if dim not in out:
            out.append(dim)
    return out


def _rows(
    ind: Indicator,
    dim: Dimension | None,
    cells: list[Cell],
    refs: References,
    hidden: set[str],
) -> list[IndicatorDataRow]:
    rows = []
    for cell in cells:
        is_total = dim is None or cell.key is None
        for s in ind.series:
            if s.total_only and not is_total:
                continue
            suppressed = cell.key is not None and cell.key in hidden
            value = cell.values.get(s.id)
            if value is None and s.kind == SeriesKind.number:
                value = 0
            rows.append(
                IndicatorDataRow(
                    series=s.id,
                    series_name=s.name,
                    unit=s.unit,
                    dimension=None if is_total else dim.value if dim else None,
                    key=None if is_total else cell.key,
                    label=None if is_total or dim is None else label(dim, cell.key, refs),
                    geo_code=PROVINCE_CODE
                    if is_total or dim is None
                    else geo_code(dim, cell.key, refs),
                    value=None if suppressed else value,
                    suppressed=suppressed,
                )
            )
    return rows


async def data(
    session: AsyncSession,
    actor: Actor,
    ind: Indicator,
    period: Period,
    dims: list[Dimension],
    refs: References | None = None,
) -> IndicatorData:
    staff = is_staff_view(actor)
    refs = refs or await load_references(session)
    count_series = ind.series[0].id
    rows: list[IndicatorDataRow] = []
    breakdowns: list[tuple[Dimension | None, list[Cell], set[str]]] = []
    if not dims:
        figures = await compute(session, ind, period, None)
        breakdowns.append((None, [figures.total], set()))
    for dim in dims:
        figures = await compute(session, ind, period, dim)
        hidden: set[str] = set()
        if ind.disclosure_control and not staff:
            counts = {c.key or "": int(c.values.get(count_series) or 0) for c in figures.breakdown}
            hidden = disclosure.suppress(counts)
        if not breakdowns:
            breakdowns.append((None, [figures.total], set()))
        ordered = sorted(figures.breakdown, key=lambda c: (label(dim, c.key, refs) or "").lower())
        breakdowns.append((dim, ordered, hidden))
    for part, cells, hidden in breakdowns:
        rows.extend(_rows(ind, part, cells, refs, hidden))
    return IndicatorData(
        indicator=ind.id,
        name=ind.name,
        period=period_out(period),
        disaggregations=[d.value for d in dims],
        view="staff" if staff else "public",
        disclosure_rule=disclosure.RULE if ind.disclosure_control and not staff else None,
        generated_at=datetime.now(UTC),
        rows=rows,
    )


def period_out(period: Period) -> IndicatorPeriod:
    return IndicatorPeriod(
        kind=period.kind,  # type: ignore[arg-type]
        label=period.label,
        from_day=period.first_day,
        to_day=period.last_day,
    )


async def set_publication(
    session: AsyncSession, actor: Actor, indicator_id: str, update: PublicationUpdate
) -> IndicatorMeta:
    ind = BY_ID.get(indicator_id)
    if ind is None:
        raise NotFound("El indicador no existe")
    row = await session.get(IndicatorPublication, indicator_id)
    before = _state(ind, {indicator_id: row} if row else {})
    if row is None:
        row = IndicatorPublication(
            indicator_id=indicator_id,
            published=update.published,
            reporting_status=update.reporting_status,
        )
        session.add(row)
    else:
        row.published = update.published
        row.reporting_status = update.reporting_status
        row.updated_at = datetime.now(UTC)
    row.updated_by_id = actor.id if actor.kind == "user" else None
    await session.flush()
    await audit.record(
        session,
        actor,
        "indicator.publication",
        "indicator",
        indicator_id,
        {
            "published": [before[0], update.published],
            "reporting_status": [before[1], update.reporting_status],
        },
    )
    return _meta(ind, update.published, update.reporting_status, True, await refreshed_at(session))


async def open_data(session: AsyncSession, year: int) -> bytes:
    """The yearly bundle of the published indicators, as the public sees them, every public
    disaggregation included."""
    from app.services.indicators import opensdg, periods

    period = periods.year(year)
    public = Actor.anonymous()
    refs = await load_references(session)
    refreshed = await refreshed_at(session)
    items = []
    for ind, published, status in await visible(session, public):
        meta = _meta(ind, published, status, False, refreshed)
        figures = await data(session, public, ind, period, list(ind.public_dimensions), refs)
        items.append((meta, figures))
    return opensdg.bundle(year, items)
