"""Quarterly newsletter: JSON and accessible HTML digests, and the e-mail dispatch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import text

from app.core import queue
from app.models.announcement import Announcement
from app.models.base import Role
from app.models.calendar import CalendarEntry
from app.services import newsletter
from tests import factories as f
from tests import receivers as r
from tests.factories import assert_problem

URL = "/api/v1/newsletters"


async def _content(session):
    alm = await f.municipality(session, "06011")
    session.add_all(
        [
            Announcement(
                title="Comunicado público de noviembre",
                body="Texto <b>con</b> marcas & cosas",
                status="published",
                is_public=True,
                published_at=datetime(2026, 11, 5, 10, tzinfo=UTC),
            ),
            Announcement(
                title="Comunicado interno",
                body="Solo para municipios",
                status="published",
                published_at=datetime(2026, 10, 2, 10, tzinfo=UTC),
            ),
            Announcement(
                title="Comunicado de septiembre",
                body="Otro trimestre",
                status="published",
                is_public=True,
                published_at=datetime(2026, 9, 30, 10, tzinfo=UTC),
            ),
            CalendarEntry(
                kind="event",
                title="Jornada de contratación pública",
                starts_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
                ends_at=datetime(2026, 12, 1, 13, tzinfo=UTC),
                status="published",
                published_at=datetime(2026, 10, 1, tzinfo=UTC),
                is_public=True,
                location="Badajoz",
            ),
            CalendarEntry(
                kind="grant_call",
                title="Plan Dinamiza 2026",
                starts_at=datetime(2026, 9, 1, 0, tzinfo=UTC),
                ends_at=datetime(2026, 9, 1, 0, tzinfo=UTC),
                application_closes_on=date(2026, 10, 20),
                status="published",
                published_at=datetime(2026, 9, 1, tzinfo=UTC),
                is_public=True,
            ),
            CalendarEntry(
                kind="event",
                title="Borrador",
                starts_at=datetime(2026, 12, 2, 9, tzinfo=UTC),
                ends_at=datetime(2026, 12, 2, 13, tzinfo=UTC),
                status="draft",
                is_public=True,
            ),
        ]
    )
    await session.commit()
    return alm


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.lang: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "html":
            self.lang = dict(attrs).get("lang")

    def handle_data(self, data):
        self.text.append(data)


async def test_json_digest_of_a_quarter(client, session):
    alm = await _content(session)
    r_ = await client.get(f"{URL}/2026-Q4")
    assert r_.status_code == 200, r_.text
    body = r_.json()
    assert body["period_start"] == "2026-10-01"
    assert body["period_end"] == "2026-12-31"
    assert [a["title"] for a in body["announcements"]] == ["Comunicado público de noviembre"]
    assert [e["title"] for e in body["events"]] == ["Jornada de contratación pública"]
    assert [g["title"] for g in body["grant_calls"]] == ["Plan Dinamiza 2026"]
    # A municipal user also gets what is addressed to them.
    user = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    mine = (await client.get(f"{URL}/2026-Q4", headers=await f.auth_headers(client, user))).json()
    assert len(mine["announcements"]) == 2


async def test_html_digest_is_accessible(client, session):
    await _content(session)
    for response in (
        await client.get(f"{URL}/2026-Q4", headers={"Accept": "text/html"}),
        await client.get(f"{URL}/2026-Q4", params={"format": "html"}),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        parser = _Parser()
        parser.feed(response.text)
        assert parser.lang == "es"
        assert {"main", "h1", "h2", "ul", "li", "section", "time"} <= set(parser.tags)
        assert "script" not in parser.tags
        assert "Texto <b>con</b> marcas & cosas" in "".join(parser.text)
        assert "<b>con</b>" not in response.text


@pytest.mark.parametrize("quarter", ["2026-Q5", "2026-4", "26-Q1", "2026-q1", "xxxx-Q1"])
async def test_invalid_quarter_is_422(client, quarter):
    assert_problem(await client.get(f"{URL}/{quarter}"), 422)


@pytest.mark.committed
async def test_send_twice_creates_no_duplicates_and_mail_arrives(client, session, smtp):
    alm = await _content(session)
    users = [await f.user(session, Role.municipal_user, municipality_id=alm.id) for _ in range(2)]
    await f.user(session, Role.municipal_user, municipality_id=alm.id, is_active=False)
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    muni = await f.auth_headers(client, users[0])
    assert_problem(await client.post(f"{URL}/2026-Q4/send", headers=muni), 403)

    async with r.arq_pool() as arq:
        first = await client.post(f"{URL}/2026-Q4/send", headers=office)
        assert first.status_code == 202, first.text
        assert first.json() == {"quarter": "2026-Q4", "created": 2, "pending": 2}
        second = await client.post(f"{URL}/2026-Q4/send", headers=office)
        assert second.json()["created"] == 0
        rows = (await session.execute(text("SELECT id, to_address FROM newsletter_dispatch"))).all()
        assert len(rows) == 2
        queued = await arq.zrange(queue.queue_name(), 0, -1)
        assert len(queued) == 2

        async with r.job_ctx() as ctx:
            smtp.fail_next = 1
            outcomes = [await newsletter.send_newsletter(ctx, str(i)) for i, _ in rows]
            assert sorted(outcomes) == ["retry", "sent"]
            retried = [i for (i, _), o in zip(rows, outcomes, strict=True) if o == "retry"]
            assert await newsletter.send_newsletter(ctx, str(retried[0])) == "sent"
            assert await newsletter.send_newsletter(ctx, str(retried[0])) == "skipped"

    assert sorted(m[1][0] for m in smtp.messages) == sorted(u.email for u in users)
    message = smtp.messages[0][2]
    assert "Boletín trimestral" in message["Subject"]
    html_part = message.get_body(preferencelist=("html",)).get_content()
    assert 'lang="es"' in html_part
    assert "Jornada de contratación pública" in html_part
    # The internal announcement reaches the municipality by e-mail too.
    assert "Comunicado interno" in html_part
    statuses = (
        await session.execute(text("SELECT status, attempts FROM newsletter_dispatch"))
    ).all()
    assert sorted(statuses) == [("sent", 1), ("sent", 2)]
