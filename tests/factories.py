"""Small helpers that arrange data for tests and log people in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.security import digest_secret, hash_password
from app.models.area import Area
from app.models.base import Role
from app.models.integration import IntegrationClient
from app.models.municipality import Municipality
from app.models.user import User

PASSWORD = "Correct-Horse-Battery-9"


async def municipality(session: AsyncSession, ine_code: str) -> Municipality:
    stmt = select(Municipality).where(col(Municipality.ine_code) == ine_code)
    return (await session.execute(stmt)).scalars().one()


async def area(session: AsyncSession, code: str | None = None, **kwargs: Any) -> Area:
    code = code or f"area-{uuid.uuid4().hex[:8]}"
    obj = Area(code=code, name=kwargs.pop("name", f"Área {code}"), **kwargs)
    session.add(obj)
    await session.commit()
    return obj


async def user(
    session: AsyncSession,
    role: Role,
    *,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    is_active: bool = True,
) -> User:
    obj = User(
        email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.org",
        full_name=f"Persona {role}",
        role=role,
        municipality_id=municipality_id,
        area_id=area_id,
        password_hash=hash_password(password),
        is_active=is_active,
    )
    session.add(obj)
    await session.commit()
    return obj


async def integration_client(
    session: AsyncSession, area_id: uuid.UUID, secret: str = "s3cret-" + "y" * 30, **kwargs: Any
) -> IntegrationClient:
    obj = IntegrationClient(
        client_id=kwargs.pop("client_id", f"client-{uuid.uuid4().hex[:8]}"),
        name=kwargs.pop("name", "Sistema de pruebas"),
        area_id=area_id,
        scopes=kwargs.pop("scopes", ["expedientes:read"]),
        secret_hash=digest_secret(secret),
        **kwargs,
    )
    session.add(obj)
    await session.commit()
    return obj


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def auth_headers(client: httpx.AsyncClient, u: User) -> dict[str, str]:
    tokens = await login(client, u.email)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def admin_headers(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, str]:
    return await auth_headers(client, await user(session, Role.admin))


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("https://")
    if code:
        assert body["code"] == code, body
    return body


async def consultation(
    session: AsyncSession,
    municipality_id: uuid.UUID,
    *,
    status: str = "received",
    area_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    subject: str = "Consulta de prueba",
    body: str = "Texto de la consulta de prueba",
    closed: bool = False,
) -> Any:
    """A consultation row inserted directly (no SLA computation), for tests of other features."""
    from datetime import UTC, datetime

    from app.models.consultation import Consultation

    now = datetime.now(UTC)
    obj = Consultation(
        reference=f"OAAA-T-{uuid.uuid4().hex[:10]}",
        access_code_hash=digest_secret("TESTCODE"),
        municipality_id=municipality_id,
        area_id=area_id,
        service_id=service_id,
        channel="web",
        status="closed" if closed else status,
        subject=subject,
        body=body,
        received_at=now,
        sla_started_at=now,
        answered_at=now if closed else None,
        closed_at=now if closed else None,
        sla_state="met" if closed else "on_track",
    )
    session.add(obj)
    await session.commit()
    return obj


async def concurrently(calls: list[tuple[str, str, dict[str, Any], dict[str, str]]]) -> list[int]:
    """Sends the requests (method, url, JSON body, headers) at once, each with its own client
    and so its own transaction; returns their status codes. Never a 5xx; errors are problems."""
    import asyncio

    from app.main import app

    async def one(method: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.request(method, url, json=body, headers=headers)
            assert r.status_code < 500, r.text
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")
            return r.status_code

    return list(await asyncio.gather(*(one(*call) for call in calls)))


async def until(condition: Callable[[], bool], attempts: int = 200) -> None:
    """Waits (10 ms at a time, `attempts` times at most) for `condition` to hold."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached")
