"""Satisfaction surveys: once per closed consultation, scoped, by signed link, aggregated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.models.area import CatalogueService
from app.models.base import Role
from app.models.consultation import Consultation
from app.models.survey import SatisfactionSurvey
from app.services import surveys as survey_service
from app.services.surveys import survey_token
from tests import factories as f
from tests.factories import assert_problem

ANSWER = {"attention": 5, "process": 4, "resolution": 3, "comment": "Muy bien atendidos"}


async def _municipal(client, session, ine="06011"):
    mun = await f.municipality(session, ine)
    u = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    return mun, await f.auth_headers(client, u)


def _url(consultation) -> str:
    return f"/api/v1/consultations/{consultation.id}/survey"


async def test_municipality_answers_its_closed_consultation(client, session):
    mun, headers = await _municipal(client, session)
    consultation = await f.consultation(session, mun.id, closed=True)
    r = await client.post(_url(consultation), json=ANSWER, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["attention"], body["process"], body["resolution"]) == (5, 4, 3)
    got = await client.get(_url(consultation), headers=headers)
    assert got.status_code == 200
    assert got.json() == body
    stored = await session.get(SatisfactionSurvey, body["id"])
    assert stored.via_link is False
    assert stored.municipality_id == mun.id
    actions = await session.execute(
        text("SELECT action FROM audit_log WHERE entity_type = 'satisfaction_survey'")
    )
    assert list(actions.scalars()) == ["satisfaction_survey.create"]


async def test_second_answer_is_409_and_the_first_is_kept(client, session):
    mun, headers = await _municipal(client, session)
    consultation = await f.consultation(session, mun.id, closed=True)
    first = await client.post(_url(consultation), json=ANSWER, headers=headers)
    assert first.status_code == 201
    again = await client.post(
        _url(consultation),
        json={"attention": 1, "process": 1, "resolution": 1, "comment": "Cambio de opinión"},
        headers=headers,
    )
    body = assert_problem(again, 409, "conflict")
    assert "ya se ha respondido" in body["detail"]
    got = (await client.get(_url(consultation), headers=headers)).json()
    assert (got["attention"], got["comment"]) == (5, "Muy bien atendidos")
    count = await session.execute(text("SELECT count(*) FROM satisfaction_survey"))
    assert count.scalar_one() == 1


async def test_open_consultation_cannot_be_rated(client, session):
    mun, headers = await _municipal(client, session)
    consultation = await f.consultation(session, mun.id, status="answered")
    body = assert_problem(await client.post(_url(consultation), json=ANSWER, headers=headers), 409)
    assert "cerrada" in body["detail"]


async def test_another_municipality_s_consultation_is_404(client, session):
    merida = await f.municipality(session, "06083")
    consultation = await f.consultation(session, merida.id, closed=True)
    _, headers = await _municipal(client, session, "06011")
    assert_problem(await client.post(_url(consultation), json=ANSWER, headers=headers), 404)
    _, merida_headers = await _municipal(client, session, "06083")
    r = await client.post(_url(consultation), json=ANSWER, headers=merida_headers)
    assert r.status_code == 201
    assert_problem(await client.get(_url(consultation), headers=headers), 404)
    listed = (await client.get("/api/v1/surveys", headers=headers)).json()
    assert listed["items"] == []
    merida_list = (await client.get("/api/v1/surveys", headers=merida_headers)).json()
    assert len(merida_list["items"]) == 1


async def test_only_the_municipality_answers_and_unanswered_is_404(client, session):
    mun = await f.municipality(session, "06011")
    consultation = await f.consultation(session, mun.id, closed=True)
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    assert_problem(await client.post(_url(consultation), json=ANSWER, headers=office), 403)
    assert_problem(await client.get(_url(consultation), headers=office), 404)
    assert_problem(await client.post(_url(consultation), json=ANSWER), 401)


async def test_answers_are_validated_and_strict(client, session):
    mun, headers = await _municipal(client, session)
    consultation = await f.consultation(session, mun.id, closed=True)
    r = await client.post(_url(consultation), json=ANSWER | {"attention": 6}, headers=headers)
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/attention"
    r = await client.post(_url(consultation), json=ANSWER | {"overall": 5}, headers=headers)
    assert_problem(r, 422)


# ---- Signed links ------------------------------------------------------------------------------


async def test_link_works_without_login(client, session):
    mun = await f.municipality(session, "06011")
    consultation = await f.consultation(session, mun.id, closed=True, subject="Caminos")
    url = f"/api/v1/public/surveys/{survey_token(consultation.id, consultation.closed_at)}"
    info = await client.get(url)
    assert info.status_code == 200, info.text
    assert info.json()["reference"] == consultation.reference
    assert info.json()["subject"] == "Caminos"
    assert info.json()["answered"] is False
    r = await client.post(url, json=ANSWER)
    assert r.status_code == 201, r.text
    stored = await session.get(SatisfactionSurvey, r.json()["id"])
    assert stored.via_link is True
    assert stored.respondent_id is None
    assert (await client.get(url)).json()["answered"] is True
    assert_problem(await client.post(url, json=ANSWER), 409)


async def test_forged_or_stale_tokens_are_404(client, session):
    mun = await f.municipality(session, "06011")
    consultation = await f.consultation(session, mun.id, closed=True)
    token = survey_token(consultation.id, consultation.closed_at)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    other = await f.consultation(session, mun.id, closed=True)
    swapped = f"{other.id}.{token.split('.', 1)[1]}"
    for bad in (forged, swapped, "not-a-token", f"{consultation.id}.", str(consultation.id)):
        assert_problem(await client.get(f"/api/v1/public/surveys/{bad}"), 404)
        assert_problem(await client.post(f"/api/v1/public/surveys/{bad}", json=ANSWER), 404)
    # Reopened and closed again: the old link no longer works, a new one does.
    stored = await session.get(Consultation, consultation.id)
    stored.closed_at = datetime.now(UTC) + timedelta(seconds=5)
    await session.commit()
    assert_problem(await client.get(f"/api/v1/public/surveys/{token}"), 404)
    fresh = survey_token(stored.id, stored.closed_at)
    assert (await client.get(f"/api/v1/public/surveys/{fresh}")).status_code == 200
    # An open consultation's link is not valid either.
    stored.status = "in_progress"
    await session.commit()
    assert_problem(await client.get(f"/api/v1/public/surveys/{fresh}"), 404)


async def test_links_are_rate_limited_per_address(client, session, monkeypatch):
    monkeypatch.setattr(survey_service, "LINK_LIMIT", 2)
    for _ in range(2):
        assert_problem(await client.get("/api/v1/public/surveys/nothing.here"), 404)
    r = await client.get("/api/v1/public/surveys/nothing.here")
    assert_problem(r, 429, "too-many-requests")
    assert int(r.headers["retry-after"]) >= 1


# ---- Aggregates -----------------------------------------------------------------------------


async def _survey(session, municipality_id, area_id, scores, *, service_id=None, when=None):
    consultation = await f.consultation(
        session, municipality_id, closed=True, area_id=area_id, service_id=service_id
    )
    obj = SatisfactionSurvey(
        consultation_id=consultation.id,
        municipality_id=municipality_id,
        area_id=area_id,
        service_id=service_id,
        attention=scores[0],
        process=scores[1],
        resolution=scores[2],
        answered_at=when or datetime.now(UTC),
    )
    session.add(obj)
    await session.commit()
    return obj


async def test_summary_by_area_for_the_office_and_for_an_area(client, session):
    fomento = await f.area(session, "fomento", name="Área de Fomento")
    cultura = await f.area(session, "cultura", name="Área de Cultura")
    almendralejo = await f.municipality(session, "06011")
    merida = await f.municipality(session, "06083")
    await _survey(session, almendralejo.id, fomento.id, (5, 4, 4))
    await _survey(session, merida.id, fomento.id, (4, 4, 3))
    await _survey(session, merida.id, fomento.id, (4, 3, 3))
    await _survey(session, merida.id, cultura.id, (2, 2, 1))
    await _survey(session, merida.id, None, (3, 3, 3))
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    r = await client.get("/api/v1/surveys/summary", params={"group_by": "area"}, headers=office)
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["label"]: row for row in body["rows"]}
    assert set(rows) == {"Área de Fomento", "Área de Cultura", "Sin área"}
    assert rows["Área de Fomento"] == {
        "key": str(fomento.id),
        "label": "Área de Fomento",
        "count": 3,
        "attention": 4.33,
        "process": 3.67,
        "resolution": 3.33,
    }
    assert rows["Sin área"]["key"] is None
    assert body["overall"]["count"] == 5
    assert body["overall"]["attention"] == 3.6

    staff = await f.user(session, Role.area_staff, area_id=cultura.id)
    area_headers = await f.auth_headers(client, staff)
    mine = await client.get(
        "/api/v1/surveys/summary", params={"group_by": "municipality"}, headers=area_headers
    )
    assert mine.status_code == 200, mine.text
    assert [(row["label"], row["count"]) for row in mine.json()["rows"]] == [("Mérida", 1)]
    assert mine.json()["overall"]["count"] == 1
    listed = (await client.get("/api/v1/surveys", headers=area_headers)).json()["items"]
    assert len(listed) == 1


async def test_summary_by_period_and_service_with_a_date_range(client, session):
    fomento = await f.area(session, "fomento")
    service = CatalogueService(area_id=fomento.id, code="caminos", name="Caminos rurales")
    session.add(service)
    await session.commit()
    mun = await f.municipality(session, "06011")
    # 23:30 UTC on 31 March is already April in Madrid.
    await _survey(
        session, mun.id, fomento.id, (5, 5, 5), when=datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    )
    await _survey(
        session,
        mun.id,
        fomento.id,
        (3, 3, 3),
        when=datetime(2026, 2, 10, 10, tzinfo=UTC),
        service_id=service.id,
    )
    await _survey(
        session, mun.id, fomento.id, (1, 1, 1), when=datetime(2025, 12, 1, 10, tzinfo=UTC)
    )
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))

    async def summary(**params):
        r = await client.get("/api/v1/surveys/summary", params=params, headers=office)
        assert r.status_code == 200, r.text
        return r.json()

    months = await summary(group_by="month", **{"from": "2026-01-01", "to": "2026-12-31"})
    assert [(row["key"], row["count"]) for row in months["rows"]] == [
        ("2026-02", 1),
        ("2026-04", 1),
    ]
    quarters = await summary(group_by="quarter")
    assert [row["key"] for row in quarters["rows"]] == ["2025-T4", "2026-T1", "2026-T2"]
    years = await summary(group_by="year")
    assert [(row["key"], row["count"]) for row in years["rows"]] == [("2025", 1), ("2026", 2)]
    services = await summary(group_by="service")
    assert [(row["label"], row["count"]) for row in services["rows"]] == [
        ("Caminos rurales", 1),
        ("Sin servicio", 2),
    ]
    empty = await summary(group_by="area", **{"from": "2030-01-01"})
    assert empty["rows"] == []
    assert empty["overall"] == {
        "key": None,
        "label": "Total",
        "count": 0,
        "attention": None,
        "process": None,
        "resolution": None,
    }


async def test_summary_is_for_staff_only(client, session):
    _, headers = await _municipal(client, session)
    assert_problem(await client.get("/api/v1/surveys/summary", headers=headers), 403)
    assert_problem(await client.get("/api/v1/surveys/summary"), 401)
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    r = await client.get("/api/v1/surveys/summary", params={"group_by": "week"}, headers=office)
    assert_problem(r, 422)


def test_token_is_the_id_and_an_hmac_independent_of_the_time_zone():
    import uuid
    from zoneinfo import ZoneInfo

    cid = uuid.uuid4()
    closed = datetime(2026, 5, 4, 10, 30, 15, 123456, tzinfo=UTC)
    token = survey_token(cid, closed)
    raw_id, signature = token.split(".")
    assert raw_id == str(cid)
    assert "=" not in signature
    assert len(signature) == 43  # base64url of a SHA-256 digest, unpadded
    assert survey_token(cid, closed.astimezone(ZoneInfo("Europe/Madrid"))) == token
    assert survey_token(cid, closed + timedelta(microseconds=1)) != token


async def test_survey_link_is_given_for_closed_consultations_and_works_without_login(
    client, session
):
    from tests import factories as fx

    mun = await fx.municipality(session, "06011")
    mayor = await fx.user(session, Role.municipal_user, municipality_id=mun.id)
    headers = await fx.auth_headers(client, mayor)
    closed = await fx.consultation(session, mun.id, closed=True)
    still_open = await fx.consultation(session, mun.id)
    link = await client.get(f"/api/v1/consultations/{closed.id}/survey-link", headers=headers)
    assert link.status_code == 200, link.text
    token = link.json()["token"]
    assert link.json()["url"].endswith(f"/api/v1/public/surveys/{token}")
    answered = await client.post(
        f"/api/v1/public/surveys/{token}", json={"attention": 5, "process": 4, "resolution": 5}
    )
    assert answered.status_code == 201, answered.text
    fx.assert_problem(
        await client.get(f"/api/v1/consultations/{still_open.id}/survey-link", headers=headers),
        409,
    )
    other = await fx.user(
        session,
        Role.municipal_user,
        municipality_id=(await fx.municipality(session, "06083")).id,
    )
    fx.assert_problem(
        await client.get(
            f"/api/v1/consultations/{closed.id}/survey-link",
            headers=await fx.auth_headers(client, other),
        ),
        404,
    )


async def test_survey_links_expire_ninety_days_after_closing(client, session):
    mun = await f.municipality(session, "06011")
    c = await f.consultation(session, mun.id, closed=True)
    closed_at = datetime.now(UTC) - timedelta(days=91)
    await session.execute(
        text("UPDATE consultation SET closed_at = :t WHERE id = :i"), {"t": closed_at, "i": c.id}
    )
    await session.commit()
    token = survey_token(c.id, closed_at)
    f.assert_problem(await client.get(f"/api/v1/public/surveys/{token}"), 404)
    recent = await f.consultation(session, mun.id, closed=True)
    await session.refresh(recent)
    fresh = survey_token(recent.id, recent.closed_at)
    assert (await client.get(f"/api/v1/public/surveys/{fresh}")).status_code == 200
