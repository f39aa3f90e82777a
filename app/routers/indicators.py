"""ODS and Agenda Urbana indicators: public catalogue and figures (JSON, Open SDG CSV and
metadata) and the yearly open-data bundle."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response

from app.core.db import SessionDep
from app.core.deps import OfficeActor, OptionalActor
from app.core.errors import problem_responses
from app.core.routing import ApiRoute, ApiRouter
from app.schemas.base import Day
from app.schemas.indicators import (
    IndicatorCatalogue,
    IndicatorData,
    IndicatorMeta,
    PublicationUpdate,
)
from app.services.indicators import opensdg, periods
from app.services.indicators import service as indicators

router = ApiRouter(prefix="/indicators", tags=["indicators"], route_class=ApiRoute)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
IndicatorId = Annotated[str, Path(max_length=64, description="Identificador del indicador")]


@router.get(
    "",
    operation_id="indicators_list",
    summary="Catálogo de indicadores",
    response_model=IndicatorCatalogue,
    responses=problem_responses(401),
)
async def list_indicators(session: SessionDep, actor: OptionalActor) -> IndicatorCatalogue:
    """Published indicators with their metadata (the office also sees unpublished ones)."""
    return IndicatorCatalogue(items=await indicators.catalogue(session, actor))


@router.get(
    "/open-data/{year}.zip",
    operation_id="indicators_open_data",
    summary="Conjunto de datos abiertos de un año",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "Paquete de datos (zip)"},
        **problem_responses(401, 422),
    },
)
async def open_data(session: SessionDep, year: int) -> Response:
    """The published indicators of a year: Open SDG CSV and metadata of each one and a
    Frictionless `datapackage.json`, in one zip."""
    periods.year(year)
    body = await indicators.open_data(session, year)
    return Response(
        content=body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="oaaa-indicadores-{year}.zip"'},
    )


@router.get(
    "/{indicator_id}",
    operation_id="indicators_get",
    summary="Metadatos de un indicador",
    response_model=IndicatorMeta,
    responses=problem_responses(401, 404, 422),
)
async def get_indicator(
    session: SessionDep, actor: OptionalActor, indicator_id: IndicatorId
) -> IndicatorMeta:
    """One indicator's metadata, including the exact query that computes it."""
    _, meta = await indicators.get(session, actor, indicator_id)
    return meta


@router.get(
    "/{indicator_id}/metadata",
    operation_id="indicators_open_sdg_metadata",
    summary="Metadatos de un indicador en el vocabulario de Open SDG",
    response_model=dict[str, Any],
    responses=problem_responses(401, 404, 422),
)
async def open_sdg_metadata(
    session: SessionDep, actor: OptionalActor, indicator_id: IndicatorId
) -> dict[str, Any]:
    """The metadata document an Open SDG site reads (`meta/<id>.md` fields), as JSON."""
    _, meta = await indicators.get(session, actor, indicator_id)
    return opensdg.metadata(meta)


@router.get(
    "/{indicator_id}/data",
    operation_id="indicators_data",
    summary="Cifras de un indicador en un periodo",
    response_model=IndicatorData,
    responses={
        200: {"content": {"text/csv": {}}, "description": "Cifras (JSON, o CSV de Open SDG)"},
        **problem_responses(401, 403, 404, 422),
    },
)
async def indicator_data(
    session: SessionDep,
    actor: OptionalActor,
    indicator_id: IndicatorId,
    period: Annotated[
        str | None,
        Query(max_length=7, description="AAAA, AAAA-Qn o AAAA-MM; por defecto, el año en curso"),
    ] = None,
    from_day: Annotated[
        Day | None, Query(alias="from", description="Primer día de un intervalo propio")
    ] = None,
    to_day: Annotated[Day | None, Query(alias="to", description="Último día, incluido")] = None,
    disaggregation: Annotated[
        list[str] | None,
        Query(
            max_length=6,
            description="municipality, comarca, area, channel, modality o kind (repetible)",
        ),
    ] = None,
    format: Literal["json", "csv"] = "json",
) -> IndicatorData | Response:
    """Total and disaggregations of one indicator; `format=csv` gives Open SDG's data format."""
    ind, _ = await indicators.get(session, actor, indicator_id)
    when = periods.parse(period, from_day, to_day)
    dims = indicators.dimensions_for(ind, actor, disaggregation)
    figures = await indicators.data(session, actor, ind, when, dims)
    if format == "csv":
        return Response(
            content=opensdg.data_csv(figures),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'inline; filename="indicator_{ind.id}.csv"'},
        )
    return figures


@router.put(
    "/{indicator_id}/publication",
    operation_id="indicators_set_publication",
    summary="Publicar o retirar un indicador",
    response_model=IndicatorMeta,
    responses=problem_responses(401, 403, 404, 422),
)
async def set_publication(
    session: SessionDep, actor: OfficeActor, indicator_id: IndicatorId, data: PublicationUpdate
) -> IndicatorMeta:
    """Publishes or withdraws an indicator and sets its reporting status (office)."""
    return await indicators.set_publication(session, actor, indicator_id, data)
