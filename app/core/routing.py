"""Router plumbing shared by every router: route class and OpenAPI error documentation."""

from __future__ import annotations

import email.message
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.params import Form
from fastapi.routing import APIRoute

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


class ApiRoute(APIRoute):
    """Refuses request bodies whose content type the operation does not accept (415).

    FastAPI would otherwise try to validate, e.g., an XML body as JSON and answer 422.
    """

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
