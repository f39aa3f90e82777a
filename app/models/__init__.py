"""All table models, imported so that `SQLModel.metadata` is complete."""

from app.models.announcement import Announcement, AnnouncementRead
from app.models.area import Area, CatalogueService
from app.models.audit import AuditLog
from app.models.auth import RefreshToken, RevokedAccessToken
from app.models.base import Role
from app.models.calendar import (
    CalendarEntry,
    CalendarEntryMunicipality,
    EventRegistration,
    FeedToken,
)
from app.models.consultation import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    ReferenceCounter,
)
from app.models.expediente import (
    Expediente,
    ExpedienteConsultation,
    ExpedienteDocument,
    ExpedienteStageEntry,
    ProcedureType,
    StageDefinition,
)
from app.models.faq import AssistantQuery, FaqEntry
from app.models.idempotency import IdempotencyRecord
from app.models.indicator import IndicatorPublication
from app.models.integration import IntegrationClient
from app.models.municipality import Comarca, Municipality
from app.models.newsletter import NewsletterDispatch
from app.models.notification import (
    DigestDispatch,
    EmailDelivery,
    Notification,
    NotificationEvent,
    NotificationPreference,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from app.models.sla import Holiday, OfficialCalendarYear, ReferenceDataVersion, SlaPolicy
from app.models.survey import SatisfactionSurvey, Suggestion
from app.models.training import TrainingAction, TrainingAttendance, TrainingSession
from app.models.user import User
from app.models.visit import VisitDaily

__all__ = [
    "Announcement",
    "AnnouncementRead",
    "Area",
    "AssistantQuery",
    "AuditLog",
    "CalendarEntry",
    "CalendarEntryMunicipality",
    "CatalogueService",
    "Comarca",
    "Consultation",
    "ConsultationEvent",
    "ConsultationMessage",
    "DigestDispatch",
    "EmailDelivery",
    "EventRegistration",
    "Expediente",
    "ExpedienteConsultation",
    "ExpedienteDocument",
    "ExpedienteStageEntry",
    "FaqEntry",
    "FeedToken",
    "Holiday",
    "IdempotencyRecord",
    "IndicatorPublication",
    "IntegrationClient",
    "Municipality",
    "NewsletterDispatch",
    "Notification",
    "NotificationEvent",
    "NotificationPreference",
    "OfficialCalendarYear",
    "ProcedureType",
    "ReferenceCounter",
    "ReferenceDataVersion",
    "RefreshToken",
    "RevokedAccessToken",
    "Role",
    "SatisfactionSurvey",
    "SlaPolicy",
    "StageDefinition",
    "Suggestion",
    "TrainingAction",
    "TrainingAttendance",
    "TrainingSession",
    "User",
    "VisitDaily",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
