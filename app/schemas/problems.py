"""RFC 9457 problem documents: the shape of every error the API answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Ruta del campo, p. ej. ['body', 'email']")
    pointer: str = Field(description="JSON Pointer al campo dentro de la petición")
    message: str
    code: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="URI que identifica el tipo de problema")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str = Field(description="Identificador estable del problema")
    errors: list[FieldError] | None = None
    allowed: list[str] | None = Field(
        default=None, description="Valores o transiciones permitidos, cuando aplica"
    )


class OAuthProblem(Problem):
    """A problem of the token endpoint, with the members of RFC 6749 §5.2."""

    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "temporarily_unavailable",
    ] = Field(description="Código de error OAuth2 (RFC 6749 §5.2)")
    error_description: str = Field(description="Descripción legible del error")
