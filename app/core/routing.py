"""Router plumbing shared by every router: route class and OpenAPI error documentation."""

from __future__ import annotations

import email.message
import inspect
import re
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.params import Form
from fastapi.routing import APIRoute, APIRouter
from fastapi.security.base import SecurityBase
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import UnprocessableEntity, UnsupportedMediaType, problem_responses

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def media_type(request: Request) -> str:
    raw = request.headers.get("content-type")
    if not raw:
        return ""
    msg = email.message.Message()
    msg["content-type"] = raw
    return msg.get_content_type()


# A JSON escape of U+0000 not itself escaped (an even number of backslashes before it).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
NUL_DETAIL = "El texto contiene el carácter nulo (U+0000), que no se admite"


async def reject_nul(request: Request) -> None:
    """PostgreSQL cannot store U+0000 in text: refuse it up front with a 422, in the query
    string and in any body, rather than fail when it reaches the database."""
    query = request.scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        raise UnprocessableEntity(NUL_DETAIL)
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()  # cached on the request: the handler reads it again
        form = media_type(request) == "application/x-www-form-urlencoded"
        if b"\x00" in body or (form and b"%00" in body) or _JSON_NUL.search(body):
            raise UnprocessableEntity(NUL_DETAIL)


class _UuidConvertor(Convertor[str]):
    """A path segment that is a UUID (any case, with or without hyphens); pydantic parses it."""

    regex = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: Any) -> str:
        return str(value)


register_url_convertor("id", _UuidConvertor())


class _ReferenceConvertor(Convertor[str]):
    """An external reference, which may hold slashes but never ends in `/events`: that suffix
    names the reference's event collection, not another reference."""

    regex = ".+(?<!/events)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: Any) -> str:
        return str(value)


register_url_convertor("ref", _ReferenceConvertor())
_PATH_PARAM = re.compile(r"{(\w+)}")


def _typed_path(path: str, endpoint: Callable[..., Any]) -> str:
    """`{name}` becomes `{name:id}` for UUID parameters and `{name:int}` for integer ones, so a
    literal sibling (`/users/me`, `/events/feed`) is never captured by an `{id}` route: a method
    it lacks is a 405 naming the allowed ones and an unknown segment a 404, not a 422."""
    converters: dict[str, str] = {}
    hints = get_type_hints(endpoint, include_extras=True)
    for name in inspect.signature(endpoint).parameters:
        annotation = hints.get(name)
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        if annotation is uuid.UUID:
            converters[name] = "id"
        elif annotation is int:
            converters[name] = "int"

    def typed(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{{{name}:{converters[name]}}}" if name in converters else match.group(0)

    return _PATH_PARAM.sub(typed, path)


# Every operation that takes a body can answer these before its own validation runs: a body that
# is not JSON (400), too large (413) or of another media type (415).
_BODY_ERRORS = problem_responses(400, 413, 415, 422)
_AUTH_ERRORS = problem_responses(401)
_PATH_ERRORS = problem_responses(404)


def _reads_a_token(dependant: Dependant) -> bool:
    if isinstance(dependant.call, SecurityBase):
        return True
    return any(_reads_a_token(d) for d in dependant.dependencies)


class ApiRoute(APIRoute):
    """Refuses request bodies whose content type the operation does not accept (415).

    FastAPI would otherwise try to validate, e.g., an XML body as JSON and answer 422. Path
    parameters are typed in the path (see `_typed_path`), and every operation with a body
    documents the problems any body can meet.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        typed = _typed_path(path, endpoint)
        super().__init__(typed, endpoint, **kwargs)
        documented: dict[int | str, dict[str, Any]] = {}
        if typed != path:
            documented |= _PATH_ERRORS  # a segment that is not an identifier: no such path
        if self.body_field is not None:
            documented |= _BODY_ERRORS
        if _reads_a_token(self.dependant):
            documented |= _AUTH_ERRORS  # a token presented and refused, even where optional
        for status, response in documented.items():
            self.responses.setdefault(status, response)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        body_field = self.body_field
        if body_field is None:

            async def nul_checked(request: Request) -> Response:
                await reject_nul(request)
                return await handler(request)

            return nul_checked
        is_form = isinstance(body_field.field_info, Form)

        async def checked(request: Request) -> Response:
            await reject_nul(request)
            if request.method in ("POST", "PUT", "PATCH"):
                media = media_type(request)
                has_body = request.headers.get("content-length", "0") != "0" or (
                    "transfer-encoding" in request.headers
                )
                if is_form:
                    ok = media in FORM_TYPES or (not media and not has_body)
                else:
                    ok = (
                        media in JSON_TYPES
                        or media.endswith("+json")
                        or (not media and not has_body)
                    )
                if not ok:
                    expected = "formulario" if is_form else "JSON (application/json)"
                    raise UnsupportedMediaType(
                        f"Esta operación acepta {expected}; se recibió «{media or 'sin tipo'}»"
                    )
            return await handler(request)

        return checked


READ_ERRORS = problem_responses(401, 422)
SCOPED_READ_ERRORS = problem_responses(401, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 413, 415, 422)
CREATE_ERRORS = problem_responses(401, 403, 409, 413, 415, 422)


class ApiRouter(APIRouter):
    """An `APIRouter` that turns away at once a path none of its routes can match.

    FastAPI matches included routers lazily: for each request it asks every route of every
    router in turn, and twice (to choose, then to handle), which cost about a third of a
    request's CPU. A route can only match a path that holds its first segment, a literal
    (`consultations` of `/consultations/{id}`), as a whole segment; a router whose routes all
    begin with a literal answers `NONE` for a path holding none of them, without asking them.
    """

    _heads: frozenset[str] | None = None
    _heads_counted = -1

    def _route_heads(self) -> frozenset[str] | None:
        if self._heads_counted != len(self.routes):
            heads: set[str] | None = set()
            for route in self.routes:
                path = route.path if isinstance(route, APIRoute) else ""
                head = path.split("/", 2)[1] if path.startswith("/") else ""
                if not head or "{" in head:
                    heads = None  # a route that may match anything: ask them all
                    break
                assert heads is not None
                heads.add(head)
            self._heads = frozenset(heads) if heads is not None else None
            self._heads_counted = len(self.routes)
        return self._heads

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        heads = self._route_heads()
        if heads is not None and heads.isdisjoint(scope["path"].split("/")):
            return Match.NONE, {}
        return super().matches(scope)


class HeadMiddleware:
    """Answers HEAD wherever GET is answered (monitors and calendar clients poll with HEAD): the
    request runs as a GET and only the headers are sent, so they are GET's own (Content-Type,
    Content-Length, ETag…). A streaming response is told the client left once its headers are
    out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def receive_until_done() -> Message:
            if done:
                return {"type": "http.disconnect"}
            return await receive()

        async def send_headers_only(message: Message) -> None:
            nonlocal done
            if message["type"] != "http.response.body":
                await send(message)
            elif not done:
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive_until_done, send_headers_only)
