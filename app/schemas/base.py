"""The base of every request body: unknown fields are refused."""

from __future__ import annotations

from pydantic import ConfigDict
from sqlmodel import SQLModel


class StrictInput(SQLModel):
    """Base for request bodies: unknown fields are rejected, not silently dropped."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
