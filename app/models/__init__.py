"""All table models, imported so that `SQLModel.metadata` is complete."""

from app.models.area import Area, CatalogueService
from app.models.audit import AuditLog
from app.models.auth import RefreshToken
from app.models.base import Role
from app.models.integration import IntegrationClient
from app.models.municipality import Comarca, Municipality
from app.models.user import User

__all__ = [
    "Area",
    "AuditLog",
    "CatalogueService",
    "Comarca",
    "IntegrationClient",
    "Municipality",
    "RefreshToken",
    "Role",
    "User",
]
