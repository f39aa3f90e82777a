"""Who may see reports and exports, and over which rows."""

from __future__ import annotations

import uuid

from app.core.errors import Forbidden
from app.core.scoping import Actor


def area_scope(actor: Actor) -> tuple[uuid.UUID | None, str]:
    """None for the office (everything); the área of area staff; everyone else is refused."""
    if actor.is_office:
        return None, "Toda la Oficina"
    if actor.is_area_staff:
        return actor.area_id, "Área propia"
    raise Forbidden("Los informes y exportaciones son para la Oficina y las áreas")
