# mypy: disable-error-code="arg-type"
"""The reference is taken last, in one statement right before the commit: every text that
carries it gets the real one, a rolled-back creation gives its number back, and the policies
and calendars a creation reads from memory follow every change to holidays."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.audit import ActorType
from app.models.base import Role
from app.models.notification import NotificationEvent
from app.models.sla import Holiday
from app.schemas.consultations import ConsultationCreate
from app.services.consultations import intake
from app.services.notifications import email
from app.services.sla import clock
from tests import factories as f

URL = "/api/v1/consultations"


async def test_every_text_carrying_the_reference_gets_the_real_one(client, session):
    alm = await f.municipality(session, "06011")
    mayor = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    clerk = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    h = await f.auth_headers(client, mayor)
    r = await client.post(URL, json={"subject": "Camino rural", "body": "¿Plazos?"}, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    reference = created["reference"]
    assert reference == f"OAAA-{datetime.now(UTC).year}-000001"

    stored = await session.execute(
        text("SELECT reference FROM consultation WHERE id = :id"), {"id": created["id"]}
    )
    assert stored.scalar_one() == reference
    event_row = (
        await session.execute(
            text("SELECT * FROM notification_event WHERE entity_id = :id"), {"id": created["id"]}
        )
    ).one()
    assert event_row.title == f"Consulta registrada: {reference}"
    assert f"con la referencia {reference}." in event_row.body
    assert event_row.payload["reference"] == reference
    assert event_row.payload["access_code"] == created["access_code"]
    changes = (
        await session.execute(
            text(
                "SELECT changes FROM audit_log"
                " WHERE action = 'consultation.create' AND entity_id = :id"
            ),
            {"id": created["id"]},
        )
    ).scalar_one()
    assert changes["reference"] == reference
    placeholder = intake.placeholder(uuid.UUID(created["id"]))  # its mark before the number
    for table, column in (
        ("notification_event", "title || body || payload::text"),
        ("audit_log", "changes::text"),
        ("consultation", "reference"),
    ):
        left = await session.execute(
            text(f"SELECT count(*) FROM {table} WHERE strpos({column}, :mark) > 0"),
            {"mark": placeholder},
        )
        assert left.scalar_one() == 0, table

    # The e-mail the clerk gets is rendered from the event: subject and text name the reference.
    stored_event = await session.get(NotificationEvent, event_row.id)
    assert stored_event is not None
    message = email.render(stored_event, clerk.email, get_settings())
    assert reference in message["Subject"]
    plain = message.get_body(("plain",))
    assert plain is not None
    assert reference in plain.get_content()
    feed = await client.get("/api/v1/notifications", headers=await f.auth_headers(client, clerk))
    assert [n["payload"]["reference"] for n in feed.json()["items"]] == [reference]


def _office(user: Any) -> Actor:
    return Actor(kind=ActorType.user, id=user.id, role=Role.oaaa_staff, label=user.email)


def _data(municipality_id: Any, received: datetime | None = None) -> ConsultationCreate:
    return ConsultationCreate(
        subject="Plazo de justificación",
        body="¿Hasta cuándo?",
        municipality_id=municipality_id,
        channel="phone",
        received_at=received,
    )


@pytest.mark.committed
async def test_a_rolled_back_creation_gives_its_number_back(migrated_database):
    sessions = get_sessionmaker()
    async with sessions() as session:
        office = _office(await f.user(session, Role.oaaa_staff))
        municipality_id = (await f.municipality(session, "06011")).id
        await session.commit()
    year = datetime.now(UTC).astimezone(MADRID).year

    async with sessions() as session:
        first, _ = await intake.create(session, office, _data(municipality_id))
        await session.commit()
    async with sessions() as session:
        lost, _ = await intake.create(session, office, _data(municipality_id))
        assert lost.reference == f"OAAA-{year}-000002"
        await session.rollback()
    async with sessions() as session:
        again, _ = await intake.create(session, office, _data(municipality_id))
        then, _ = await intake.create(session, office, _data(municipality_id))
        await session.commit()
        count = await session.execute(text("SELECT count(*) FROM consultation"))
        assert count.scalar_one() == 3

    assert first.reference == f"OAAA-{year}-000001"
    assert again.reference == f"OAAA-{year}-000002"
    assert then.reference == f"OAAA-{year}-000003"


def _madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)  # type: ignore[misc]


async def test_a_holiday_added_between_two_creations_moves_the_second_due_date(session):
    clock.forget_reference_data()
    office = _office(await f.user(session, Role.oaaa_staff))
    municipality_id = (await f.municipality(session, "06011")).id
    received = _madrid(2026, 11, 25, 10, 0)  # Wednesday; general policy: 10 working days
    later = received + timedelta(minutes=5)

    first, _ = await intake.create(session, office, _data(municipality_id, received), now=later)
    assert first.resolution_due_at is not None
    assert first.resolution_due_at.astimezone(MADRID).date() == date(2026, 12, 11)

    # Read from memory now: nothing changed, so no policy or holiday is read again.
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = (await session.connection()).sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        second, _ = await intake.create(
            session, office, _data(municipality_id, received), now=later
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert second.resolution_due_at == first.resolution_due_at
    assert not [s for s in statements if "FROM holiday" in s or "FROM sla_policy" in s]

    # A province-wide holiday on Tuesday 1 December: the next creation counts it.
    session.add(Holiday(municipality_id=None, day=date(2026, 12, 1), name="Festivo de prueba"))
    await session.flush()
    third, _ = await intake.create(session, office, _data(municipality_id, received), now=later)
    assert third.resolution_due_at is not None
    assert third.resolution_due_at.astimezone(MADRID).date() == date(2026, 12, 14)
