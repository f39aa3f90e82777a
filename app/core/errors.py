"""Domain errors and their rendering as RFC 9457 problem documents.

Services raise `AppError` subclasses; one set of handlers turns every error (domain, validation,
routing, unexpected) into `application/problem+json`. No stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.field_messages import field_message
from app.schemas.problems import FieldError, Problem

logger = logging.getLogger("app.core.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://oaaa.dip-badajoz.es/problems/"


class AppError(Exception):
    status: int = 400
    code: str = "bad-request"
    title: str = "Petición incorrecta"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        allowed: Sequence[str] | None = None,
        headers: dict[str, str] | None = None,
        extensions: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.allowed = list(allowed) if allowed is not None else None
        self.headers = headers or {}
        # Extension members of the problem document (RFC 9457 §3.2), e.g. OAuth2's `error`.
        self.extensions = dict(extensions or {})


class BadRequest(AppError):
    pass


class InvalidCursor(AppError):
    status = 400
    code = "invalid-cursor"
    title = "Cursor de paginación no válido"


class MalformedBody(AppError):
    """A body that is not a JSON document: malformed, not UTF-8, or nested too deep to parse."""

    status = 400
    code = "malformed-json"
    title = "JSON mal formado"

    def __init__(self) -> None:
        super().__init__(
            "El cuerpo de la petición no es un documento JSON válido (UTF-8)",
            errors=[
                FieldError(loc=["body"], pointer="/", message="JSON no válido", code="json_invalid")
            ],
        )


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "No autenticado"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Acceso denegado"


class NotFound(AppError):
    status = 404
    code = "not-found"
    title = "Recurso no encontrado"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflicto con el estado actual"


class InvalidTransition(Conflict):
    code = "invalid-transition"
    title = "Transición de estado no permitida"


class PreconditionFailed(AppError):
    status = 412
    code = "precondition-failed"
    title = "La versión indicada no es la actual"


class PreconditionRequired(AppError):
    status = 428
    code = "precondition-required"
    title = "Falta la cabecera If-Match"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload-too-large"
    title = "Cuerpo de la petición demasiado grande"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported-media-type"
    title = "Tipo de contenido no admitido"


class UnprocessableEntity(AppError):
    status = 422
    code = "validation-error"
    title = "Datos no válidos"


def invalid_field(field: str, message: str, where: str = "body") -> UnprocessableEntity:
    """A 422 problem naming the offending field."""
    return UnprocessableEntity(
        f"{field}: {message}",
        errors=[
            FieldError(loc=[where, field], pointer=f"/{field}", message=message, code="invalid")
        ],
    )


OAUTH_ERRORS = {
    "invalid_request": "Petición de token incorrecta",
    "invalid_client": "Cliente no autenticado",
    "invalid_grant": "Credenciales o token de renovación no válidos",
    "unauthorized_client": "Cliente no autorizado para este tipo de concesión",
    "unsupported_grant_type": "Tipo de concesión no admitido",
    "invalid_scope": "Ámbito no válido",
    "temporarily_unavailable": "Servicio de tokens no disponible temporalmente",
}


class OAuthError(AppError):
    """An RFC 6749 §5.2 error of the token endpoint: a problem document that also carries the
    standard `error` and `error_description` members, so OAuth2 client libraries see an error.

    `invalid_client` is a 401 with a `WWW-Authenticate: Basic` challenge; the rest are 400
    unless a status is given (429 and 503 keep theirs, as `temporarily_unavailable`)."""

    def __init__(
        self,
        error: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        assert error in OAUTH_ERRORS, error
        self.status = status or (401 if error == "invalid_client" else 400)
        self.code = error.replace("_", "-")
        self.title = OAUTH_ERRORS[error]
        merged = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
        if error == "invalid_client":
            merged["WWW-Authenticate"] = 'Basic realm="oaaa", error="invalid_client"'
        super().__init__(
            detail or self.title,
            errors=errors,
            headers=merged,
            extensions={"error": error, "error_description": detail or self.title},
        )


class TooManyRequests(AppError):
    status = 429
    code = "too-many-requests"
    title = "Demasiadas peticiones"


class ServiceUnavailable(AppError):
    status = 503
    code = "service-unavailable"
    title = "Servicio no disponible"


_STATUS_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}
_SPANISH_TITLES = {
    400: "Petición incorrecta",
    401: "No autenticado",
    403: "Acceso denegado",
    404: "Recurso no encontrado",
    405: "Método no permitido",
    406: "Formato de respuesta no disponible",
    409: "Conflicto con el estado actual",
    413: "Cuerpo de la petición demasiado grande",
    415: "Tipo de contenido no admitido",
    422: "Datos no válidos",
    429: "Demasiadas peticiones",
    500: "Error interno",
    503: "Servicio no disponible",
}


def problem_response(
    request: Request,
    *,
    status: int,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    allowed: list[str] | None = None,
    headers: dict[str, str] | None = None,
    extensions: Mapping[str, str] | None = None,
) -> JSONResponse:
    code = code or _STATUS_CODES.get(status, f"http-{status}")
    title = title or _SPANISH_TITLES.get(status) or HTTPStatus(status).phrase
    problem = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=errors,
        allowed=allowed,
    )
    return JSONResponse(
        {**problem.model_dump(exclude_none=True), **(extensions or {})},
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _pointer(loc: Sequence[str | int]) -> str:
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validation_field_errors(raw_errors: Sequence[Any]) -> list[FieldError]:
    out: list[FieldError] = []
    for err in raw_errors:
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        out.append(
            FieldError(
                loc=loc,
                pointer=_pointer(loc),
                message=field_message(err),
                code=str(err.get("type", "invalid")),
            )
        )
    return out


def error_response(request: Request, exc: AppError) -> JSONResponse:
    """The problem document of `exc`, for a caller that answers with it instead of raising."""
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        allowed=exc.allowed,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(request, exc)


# What FastAPI says when it cannot decode a body at all (invalid UTF-8, nesting too deep for
# the parser): the same problem as JSON that does not parse.
_BODY_PARSE_ERROR = "There was an error parsing the body"


def malformed_body_response(request: Request) -> JSONResponse:
    """The one answer to a body that is not a JSON document: malformed JSON, invalid UTF-8,
    nesting too deep to parse."""
    return error_response(request, MalformedBody())


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_field_errors(exc.errors())
    if any(e.code == "json_invalid" for e in errors):
        return malformed_body_response(request)
    fields = ", ".join(e.pointer for e in errors[:5])
    return problem_response(
        request,
        status=422,
        code="validation-error",
        detail=f"La petición contiene datos no válidos: {fields}",
        errors=errors,
    )


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and detail == _BODY_PARSE_ERROR:
        return malformed_body_response(request)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No existe la ruta {request.url.path}"
    elif exc.status_code == 405:
        detail = f"El método {request.method} no está permitido en {request.url.path}"
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(request, status=exc.status_code, detail=detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method of every route whose path matches the request's (Starlette names only the
    first matching route's), with HEAD wherever GET is answered."""
    scope = dict(request.scope)
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        route_methods = route.methods
        if not route_methods:
            continue
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= set(route_methods)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


DATABASE_RETRY_AFTER_SECONDS = 5

# The server is refusing, restarting or full: asyncpg's connection-class errors (SQLSTATE 08),
# too many connections (53300), administrator/crash shutdown and "cannot connect now" (57P0x).
_UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything behind it: SQLAlchemy's `orig`, causes and contexts (a
    wrapper's cause is often its `orig`, whose own cause is the driver's error)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        for nxt in (orig, current.__cause__, current.__context__):
            if isinstance(nxt, BaseException) and id(nxt) not in seen:
                pending.append(nxt)


def _raised_by_database_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        tb = tb.tb_next
    return False


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (refused, timed out, pool exhausted, shutting down), as
    opposed to a query that is wrong."""
    for e in _chain(exc):
        if isinstance(e, sa_exc.TimeoutError | sa_exc.InterfaceError | asyncpg.InterfaceError):
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, OSError | TimeoutError) and _raised_by_database_driver(e):
            return True  # ConnectionRefusedError, DNS failure, connect timeout
        if isinstance(e, asyncpg.PostgresError):
            sqlstate = str(getattr(e, "sqlstate", "") or "")
            if sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
                return True
    return False


def _database_unavailable_response(request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", type(exc).__name__)
    return problem_response(
        request,
        status=503,
        code="database-unavailable",
        detail="La base de datos no está disponible en este momento. Inténtelo de nuevo.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Inside the app, so the response carries the request id and is counted as a 503; any
    other database or OS error goes on to the unexpected-error handler."""
    if database_unavailable(exc):
        return _database_unavailable_response(request, exc)
    refused = _constraint_refusal(exc)
    if refused is not None:
        logger.warning("constraint refused a write: %s", type(exc).__name__)
        return await _app_error_handler(request, refused)
    raise exc


def _constraint_refusal(exc: BaseException) -> AppError | None:
    """A write the database refused by a constraint that no service check caught first (for
    instance during an autoflush): the caller's data was wrong, so 409/422, never 500."""
    if not isinstance(exc, sa_exc.IntegrityError):
        return None
    for e in _chain(exc):
        if isinstance(e, asyncpg.UniqueViolationError):
            return Conflict("El recurso ya existe")
        if isinstance(e, asyncpg.ForeignKeyViolationError):
            return UnprocessableEntity("Una de las referencias indicadas no existe")
        if isinstance(e, asyncpg.CheckViolationError | asyncpg.NotNullViolationError):
            return UnprocessableEntity("Los datos no cumplen las reglas")
    return None


async def _redis_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A use of Redis that cannot do without it (a stream ticket, a log-out) and found it down."""
    logger.error("redis unavailable: %s", type(exc).__name__)
    return problem_response(
        request,
        status=503,
        code="service-unavailable",
        detail="Un servicio interno no está disponible en este momento. Inténtelo de nuevo.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        return _database_unavailable_response(request, exc)
    logger.exception("unhandled error", exc_info=exc)
    return problem_response(
        request,
        status=500,
        detail="Se ha producido un error inesperado. Se ha registrado para su revisión.",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    for database_error in (
        sa_exc.SQLAlchemyError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
        TimeoutError,
    ):
        app.add_exception_handler(database_error, _database_error_handler)
    app.add_exception_handler(RedisError, _redis_error_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem documents an operation can return. Every
    operation can also answer 503 (with `Retry-After`) while the database or Redis is away."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, 503):
        out[status] = {
            "model": Problem,
            "description": _SPANISH_TITLES.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out
