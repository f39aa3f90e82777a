"""Training actions: public catalogue, management by staff, attendance and its CSV import."""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.core.db import SessionDep
from app.core.deps import CurrentActor, OptionalActor
from app.core.errors import UnprocessableEntity, UnsupportedMediaType, problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import ApiRoute, ApiRouter, media_type
from app.models.calendar import Modality
from app.models.training import TrainingAction
from app.schemas.trainings import (
    AttendanceCreate,
    AttendancePublic,
    ImportReport,
    TrainingCreate,
    TrainingPublic,
    TrainingUpdate,
)
from app.services import trainings as service

router = ApiRouter(tags=["trainings"], route_class=ApiRoute)

URL = "/trainings"

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "ine_code,role,attended_hours,name\n06011,Secretaría,4,Ana Pérez\n",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


async def _one(session: AsyncSession, t: TrainingAction) -> TrainingPublic:
    return (await service.render(session, [t]))[0]


@router.post(
    URL,
    operation_id="trainings_create",
    summary="Crear una acción formativa",
    status_code=201,
    response_model=TrainingPublic,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_training(
    data: TrainingCreate, session: SessionDep, actor: CurrentActor, response: Response
) -> TrainingPublic:
    """Office staff, or área staff for their own área."""
    t = await service.create(session, actor, data)
    response.headers["Location"] = f"/api/v1{URL}/{t.id}"
    return await _one(session, t)


@router.get(
    URL,
    operation_id="trainings_list",
    summary="Listar acciones formativas",
    response_model=Page[TrainingPublic],
    responses=problem_responses(400, 401, 422),
)
async def list_trainings(
    session: SessionDep,
    actor: OptionalActor,
    page: PageDep,
    area_id: uuid.UUID | None = None,
    modality: Modality | None = None,
) -> Page[TrainingPublic]:
    """The public catalogue, newest first."""
    rows, cursor = await service.list_trainings(session, page, area_id=area_id, modality=modality)
    return Page(items=await service.render(session, rows), next_cursor=cursor)


@router.get(
    f"{URL}/{{training_id}}",
    operation_id="trainings_get",
    summary="Consultar una acción formativa",
    response_model=TrainingPublic,
    responses=problem_responses(401, 404, 422),
)
async def get_training(
    training_id: uuid.UUID, session: SessionDep, actor: OptionalActor
) -> TrainingPublic:
    """One training action with its sessions."""
    return await _one(session, await service.get(session, actor, training_id))


@router.patch(
    f"{URL}/{{training_id}}",
    operation_id="trainings_update",
    summary="Modificar una acción formativa",
    response_model=TrainingPublic,
    responses=problem_responses(401, 403, 404, 415, 422),
)
async def update_training(
    training_id: uuid.UUID, data: TrainingUpdate, session: SessionDep, actor: CurrentActor
) -> TrainingPublic:
    """Changes the given fields; `sessions`, when given, replaces them all."""
    return await _one(session, await service.update(session, actor, training_id, data))


@router.delete(
    f"{URL}/{{training_id}}",
    operation_id="trainings_delete",
    summary="Eliminar una acción formativa",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_training(training_id: uuid.UUID, session: SessionDep, actor: CurrentActor) -> None:
    """Deletes the action with its sessions and attendance."""
    await service.delete_training(session, actor, training_id)


@router.post(
    f"{URL}/{{training_id}}/attendance",
    operation_id="trainings_attendance_add",
    summary="Registrar una asistencia",
    status_code=201,
    response_model=AttendancePublic,
    responses=problem_responses(401, 403, 404, 413, 415, 422),
)
async def add_attendance(
    training_id: uuid.UUID, data: AttendanceCreate, session: SessionDep, actor: CurrentActor
) -> AttendancePublic:
    """One attendee: municipality, role, attended hours (at most the action's), optional name."""
    row = await service.add_attendance(session, actor, training_id, data)
    return AttendancePublic.model_validate(row)


@router.get(
    f"{URL}/{{training_id}}/attendance",
    operation_id="trainings_attendance_list",
    summary="Listar la asistencia",
    response_model=Page[AttendancePublic],
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_attendance(
    training_id: uuid.UUID, session: SessionDep, actor: CurrentActor, page: PageDep
) -> Page[AttendancePublic]:
    """Staff managing the action see all rows; a municipal user only their municipality's."""
    rows, cursor = await service.list_attendance(session, actor, training_id, page)
    return Page.of(AttendancePublic, rows, cursor)


@router.post(
    f"{URL}/{{training_id}}/attendance/import",
    operation_id="trainings_attendance_import",
    summary="Importar asistentes desde CSV",
    response_model=ImportReport,
    responses=problem_responses(401, 403, 404, 413, 415, 422),
    openapi_extra=_CSV_BODY,
)
async def import_attendance(
    training_id: uuid.UUID, request: Request, session: SessionDep, actor: CurrentActor
) -> ImportReport:
    """CSV (`text/csv` body or a multipart `file`) with columns `ine_code,role,attended_hours,
    name`: good rows are imported and every row is reported (`imported` or `error`)."""
    media = media_type(request)
    if media == "text/csv":
        raw = await request.body()
    elif media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise UnprocessableEntity("Falta el fichero (campo «file»)")
        raw = await upload.read()
    else:
        raise UnsupportedMediaType(
            "Esta operación acepta text/csv o multipart/form-data; "
            f"se recibió «{media or 'sin tipo'}»"
        )
    text = service.decode_csv(raw)
    return await service.import_attendance(session, actor, training_id, text)
