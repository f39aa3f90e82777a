"""The indicators of one period as one spreadsheet: every series of every indicator the caller
can see, by each disaggregation open to them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scoping import Actor
from app.services.indicators import service as indicators
from app.services.indicators.catalogue import DIMENSION_LABELS, Dimension
from app.services.indicators.computation import load_references
from app.services.indicators.periods import Period
from app.services.reports import csvfmt

HEADERS = (
    "Indicador",
    "Nombre",
    "Periodo",
    "Serie",
    "Unidad",
    "Desagregación",
    "Valor de la desagregación",
    "Código INE",
    "Valor",
    "Suprimido",
)


async def render(session: AsyncSession, actor: Actor, period: Period) -> bytes:
    refs = await load_references(session)
    staff = indicators.is_staff_view(actor)
    rows: list[list[object]] = []
    for ind, _, _ in await indicators.visible(session, actor):
        dims = list(ind.dimensions if staff else ind.public_dimensions)
        data = await indicators.data(session, actor, ind, period, dims, refs)
        for r in data.rows:
            rows.append(
                [
                    ind.id,
                    ind.name,
                    period.label,
                    r.series_name,
                    r.unit,
                    DIMENSION_LABELS[Dimension(r.dimension)] if r.dimension else "Total",
                    r.label or "",
                    r.geo_code,
                    r.value,
                    r.suppressed,
                ]
            )
    return ("\ufeff" + csvfmt.render(HEADERS, rows)).encode()


async def stream(session: AsyncSession, actor: Actor, period: Period) -> AsyncIterator[bytes]:
    yield await render(session, actor, period)
