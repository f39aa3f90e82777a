"""Router plumbing shared by every router: route class and OpenAPI error documentation."""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.params import Form
from fastapi.routing import APIRoute

from app.errors import UnsupportedMediaType, problem_responses

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def media_type(request: Request) -> str:
    raw = request.headers.get("content-type")
    if not raw:
        return ""
    msg = email.message.Message()
    msg["content-type"] = raw
    return msg.get_content_type()


class ApiRoute(APIRoute):
    """Refuses request bodies whose content type the operation does not accept (415).

    FastAPI would otherwise try to validate, e.g., an XML body as JSON and answer 422.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        body_field = self.body_field
        if body_field is None:
            return handler
        is_form = isinstance(body_field.field_info, Form)

        async def checked(request: Request) -> Response:
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
