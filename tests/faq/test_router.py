"""FAQ knowledge base and the assistant: visibility, management by área, asking, feedback,
unanswered questions, deflection rate and rate limits."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.models.base import Role
from app.models.faq import AssistantQuery, FaqEntry
from app.seed.demo import seed
from app.seed.faq import _demo_id
from app.services import faq as faq_service
from app.services.faq import normalize_question
from tests import factories as f
from tests.factories import assert_problem


async def _entry(session, question: str, *, published: bool = True, area_id=None, **kw):
    obj = FaqEntry(
        question=question,
        question_normalized=normalize_question(question),
        answer=kw.pop("answer", "Respuesta de prueba suficientemente larga."),
        is_published=published,
        area_id=area_id,
        **kw,
    )
    session.add(obj)
    await session.commit()
    return obj


async def _office(client, session):
    return await f.auth_headers(client, await f.user(session, Role.oaaa_staff))


async def _area_staff(client, session, area):
    return await f.auth_headers(client, await f.user(session, Role.area_staff, area_id=area.id))


async def _municipal(client, session, ine="06011"):
    mun = await f.municipality(session, ine)
    u = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    return u, await f.auth_headers(client, u)


async def _audit_actions(session, entity_type: str) -> list[str]:
    rows = await session.execute(
        text("SELECT action FROM audit_log WHERE entity_type = :e ORDER BY id"), {"e": entity_type}
    )
    return list(rows.scalars())


# ---- Visibility ------------------------------------------------------------------------------


async def test_public_list_shows_only_published_entries(client, session):
    await _entry(session, "¿Pregunta publicada de prueba?")
    await _entry(session, "¿Borrador sin publicar?", published=False)
    r = await client.get("/api/v1/faq")
    assert r.status_code == 200, r.text
    assert [e["question"] for e in r.json()["items"]] == ["¿Pregunta publicada de prueba?"]
    # Asking for drafts without being staff changes nothing.
    r = await client.get("/api/v1/faq", params={"include_unpublished": True})
    assert len(r.json()["items"]) == 1


async def test_unpublished_entry_is_404_for_the_public_and_municipalities(client, session):
    draft = await _entry(session, "¿Borrador sin publicar?", published=False)
    assert_problem(await client.get(f"/api/v1/faq/{draft.id}"), 404, "not-found")
    _, headers = await _municipal(client, session)
    assert_problem(await client.get(f"/api/v1/faq/{draft.id}", headers=headers), 404)


async def test_office_sees_drafts_when_asking_for_them(client, session):
    draft = await _entry(session, "¿Borrador sin publicar?", published=False)
    await _entry(session, "¿Pregunta publicada de prueba?")
    headers = await _office(client, session)
    r = await client.get("/api/v1/faq", params={"include_unpublished": True}, headers=headers)
    assert len(r.json()["items"]) == 2
    r = await client.get("/api/v1/faq", headers=headers)
    assert len(r.json()["items"]) == 1
    assert (await client.get(f"/api/v1/faq/{draft.id}", headers=headers)).status_code == 200


async def test_list_filters_by_tag_area_and_text_and_pages(client, session):
    fomento = await f.area(session, "fomento")
    await _entry(session, "¿Cómo pido una subvención?", tags=["subvenciones"])
    await _entry(session, "¿Cómo arreglo un camino rural?", area_id=fomento.id, tags=["caminos"])
    await _entry(session, "¿Qué es la sede electrónica?")
    by_tag = (await client.get("/api/v1/faq", params={"tag": "Subvenciones"})).json()["items"]
    assert [e["question"] for e in by_tag] == ["¿Cómo pido una subvención?"]
    by_area = (await client.get("/api/v1/faq", params={"area_id": str(fomento.id)})).json()
    assert [e["question"] for e in by_area["items"]] == ["¿Cómo arreglo un camino rural?"]
    by_text = (await client.get("/api/v1/faq", params={"q": "SUBVENCION"})).json()["items"]
    assert [e["question"] for e in by_text] == ["¿Cómo pido una subvención?"]
    first = (await client.get("/api/v1/faq", params={"limit": 2})).json()
    assert len(first["items"]) == 2
    second = (
        await client.get("/api/v1/faq", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None


# ---- Management --------------------------------------------------------------------------------


async def test_office_creates_and_edits_keeping_the_normalised_question(client, session):
    headers = await _office(client, session)
    r = await client.post(
        "/api/v1/faq",
        json={
            "question": "¿Cómo  SOLICITO un Certificado?",
            "answer": "Desde la sede electrónica.",
            "tags": [" Certificados ", "certificados", "Sede"],
            "is_published": True,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tags"] == ["certificados", "sede"]
    assert "question_normalized" not in body
    stored = await session.get(FaqEntry, uuid.UUID(body["id"]))
    assert stored.question_normalized == "¿como solicito un certificado?"
    r = await client.patch(
        f"/api/v1/faq/{body['id']}",
        json={"question": "¿Dónde RENUEVO el certificado?"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    await session.refresh(stored)
    assert stored.question_normalized == "¿donde renuevo el certificado?"
    assert await _audit_actions(session, "faq_entry") == ["faq_entry.create", "faq_entry.update"]


async def test_faq_bodies_are_strict_and_validated(client, session):
    headers = await _office(client, session)
    r = await client.post(
        "/api/v1/faq",
        json={"question": "¿Una pregunta?", "answer": "Una respuesta", "score": 1},
        headers=headers,
    )
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/score"
    r = await client.post(
        "/api/v1/faq",
        json={"question": "¿Una pregunta?", "answer": "Una respuesta", "tags": ["x" * 51]},
        headers=headers,
    )
    assert_problem(r, 422)
    entry = await _entry(session, "¿Pregunta publicada de prueba?")
    r = await client.patch(f"/api/v1/faq/{entry.id}", json={"question": None}, headers=headers)
    assert_problem(r, 422)


async def test_municipal_users_cannot_manage_the_knowledge_base(client, session):
    _, headers = await _municipal(client, session)
    r = await client.post(
        "/api/v1/faq",
        json={"question": "¿Una pregunta?", "answer": "Una respuesta"},
        headers=headers,
    )
    assert_problem(r, 403, "forbidden")
    assert_problem(await client.post("/api/v1/faq", json={}), 401)


async def test_area_staff_manage_only_their_own_area(client, session):
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    headers = await _area_staff(client, session, fomento)
    # Without area_id the entry is their área's.
    r = await client.post(
        "/api/v1/faq",
        json={"question": "¿Caminos rurales?", "answer": "Respuesta de Fomento"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["area_id"] == str(fomento.id)
    # Another área's entry cannot be created …
    r = await client.post(
        "/api/v1/faq",
        json={"question": "¿Teatro?", "answer": "Respuesta", "area_id": str(cultura.id)},
        headers=headers,
    )
    assert_problem(r, 422)
    # … nor edited, nor seen as a draft: it does not exist for them.
    other = await _entry(session, "¿Borrador de Cultura?", published=False, area_id=cultura.id)
    r = await client.patch(f"/api/v1/faq/{other.id}", json={"answer": "Cambio"}, headers=headers)
    assert_problem(r, 404)
    assert_problem(await client.get(f"/api/v1/faq/{other.id}", headers=headers), 404)
    listed = await client.get("/api/v1/faq", params={"include_unpublished": True}, headers=headers)
    assert str(other.id) not in {e["id"] for e in listed.json()["items"]}
    # Their own drafts they see and edit; they cannot move them to another área.
    own = await _entry(session, "¿Borrador de Fomento?", published=False, area_id=fomento.id)
    assert (await client.get(f"/api/v1/faq/{own.id}", headers=headers)).status_code == 200
    r = await client.patch(f"/api/v1/faq/{own.id}", json={"is_published": True}, headers=headers)
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/api/v1/faq/{own.id}", json={"area_id": str(cultura.id)}, headers=headers
    )
    assert_problem(r, 422)
    # Even a published entry of another área is read-only for them.
    published = await _entry(session, "¿Pregunta de Cultura?", area_id=cultura.id)
    r = await client.patch(
        f"/api/v1/faq/{published.id}", json={"answer": "X" * 10}, headers=headers
    )
    assert_problem(r, 404)


async def test_service_must_belong_to_the_area(client, session):
    from app.models.area import CatalogueService

    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    service = CatalogueService(area_id=fomento.id, code="caminos", name="Caminos rurales")
    session.add(service)
    await session.commit()
    headers = await _office(client, session)
    base = {"question": "¿Caminos rurales?", "answer": "Respuesta de Fomento"}
    r = await client.post(
        "/api/v1/faq",
        json=base | {"service_id": str(service.id), "area_id": str(cultura.id)},
        headers=headers,
    )
    assert_problem(r, 422)
    r = await client.post(
        "/api/v1/faq", json=base | {"service_id": str(service.id)}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["area_id"] == str(fomento.id)


# ---- The assistant ---------------------------------------------------------------------------


async def _seeded(session):
    await seed(session)
    await session.commit()


async def test_assistant_is_tolerant_of_accents_case_and_typos(client, session):
    await _seeded(session)
    expected = {
        "certifcado digital": _demo_id("faq", "certificado-empleado"),
        "CAMINOS RURALES": None,
        "subvencion": None,
    }
    for question, faq_id in expected.items():
        r = await client.post("/api/v1/assistant/ask", json={"question": question})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["answered"] is True, (question, body)
        assert body["consultation_draft"] is None
        assert 1 <= len(body["answers"]) <= 3
        best = body["answers"][0]
        assert 0 < best["score"] <= 1
        if faq_id:
            assert best["faq_id"] == str(faq_id)
    caminos = await client.post("/api/v1/assistant/ask", json={"question": "CAMINOS RURALES"})
    assert "camino rural" in caminos.json()["answers"][0]["question"]
    subvencion = await client.post("/api/v1/assistant/ask", json={"question": "subvencion"})
    assert "subvenci" in subvencion.json()["answers"][0]["question"]


async def test_every_question_is_kept_with_the_caller(client, session):
    await _seeded(session)
    user, headers = await _municipal(client, session)
    r = await client.post(
        "/api/v1/assistant/ask", json={"question": "certificado digital"}, headers=headers
    )
    query = await session.get(AssistantQuery, uuid.UUID(r.json()["query_id"]))
    assert query.question == "certificado digital"
    assert query.answered is True
    assert query.best_faq_id == _demo_id("faq", "certificado-empleado")
    assert query.best_score == r.json()["answers"][0]["score"]
    assert query.user_id == user.id
    assert query.municipality_id == user.municipality_id
    anonymous = await client.post("/api/v1/assistant/ask", json={"question": "sede electronica"})
    query = await session.get(AssistantQuery, uuid.UUID(anonymous.json()["query_id"]))
    assert query.user_id is None
    assert query.municipality_id is None


async def test_below_the_threshold_offers_a_consultation_draft(client, session):
    await _seeded(session)
    question = "¿Quiero adoptar un perro abandonado? " + "Detalles del caso. " * 30
    question = question[:480]
    r = await client.post("/api/v1/assistant/ask", json={"question": question})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answered"] is False
    assert "No hemos encontrado" in body["message"]
    draft = body["consultation_draft"]
    assert draft["channel"] == "assistant"
    assert draft["subject"] == question.strip()[:300]
    assert len(draft["subject"]) == 300
    assert draft["body"] == question.strip()
    assert draft["assistant_query_id"] == body["query_id"]
    query = await session.get(AssistantQuery, uuid.UUID(body["query_id"]))
    assert query.answered is False


async def test_with_an_empty_knowledge_base_nothing_is_answered(client):
    r = await client.post("/api/v1/assistant/ask", json={"question": "certificado digital"})
    body = r.json()
    assert body["answered"] is False
    assert body["answers"] == []
    assert body["consultation_draft"]["service_id"] is None


async def test_ask_body_is_strict(client):
    assert_problem(await client.post("/api/v1/assistant/ask", json={"question": "  a "}), 422)
    r = await client.post("/api/v1/assistant/ask", json={"question": "x" * 501})
    assert_problem(r, 422)
    r = await client.post("/api/v1/assistant/ask", json={"question": "hola", "lang": "es"})
    assert_problem(r, 422)


async def test_asks_are_rate_limited_per_address(client, monkeypatch):
    monkeypatch.setattr(faq_service, "ASK_LIMIT", 3)
    for _ in range(3):
        r = await client.post("/api/v1/assistant/ask", json={"question": "hola"})
        assert r.status_code == 200, r.text
    r = await client.post("/api/v1/assistant/ask", json={"question": "hola"})
    body = assert_problem(r, 429, "too-many-requests")
    assert int(r.headers["retry-after"]) >= 1
    assert "segundos" in body["detail"]


# ---- Feedback, unanswered, stats --------------------------------------------------------------


async def test_feedback_is_accepted_once(client, session):
    await _seeded(session)
    asked = await client.post("/api/v1/assistant/ask", json={"question": "certificado digital"})
    query_id = asked.json()["query_id"]
    url = f"/api/v1/assistant/queries/{query_id}/feedback"
    r = await client.post(url, json={"helpful": True})
    assert r.status_code == 200, r.text
    assert r.json()["feedback"] == "helpful"
    again = await client.post(url, json={"helpful": False})
    assert_problem(again, 409, "conflict")
    query = await session.get(AssistantQuery, uuid.UUID(query_id))
    assert query.feedback == "helpful"
    assert query.resolved_by_faq_id == query.best_faq_id
    unknown = f"/api/v1/assistant/queries/{uuid.uuid4()}/feedback"
    assert_problem(await client.post(unknown, json={"helpful": True}), 404)
    assert_problem(await client.post(url, json={"helpful": "quizá"}), 422)


async def _query(session, *, answered: bool, feedback=None, consultation_id=None, **kw):
    obj = AssistantQuery(
        question=kw.pop("question", "pregunta"),
        answered=answered,
        feedback=feedback,
        consultation_id=consultation_id,
        **kw,
    )
    session.add(obj)
    await session.commit()
    return obj


async def test_unanswered_lists_misses_and_unhelpful_answers_for_the_office(client, session):
    await _query(session, answered=True, feedback="helpful", question="útil")
    await _query(session, answered=True, question="sin valorar")
    await _query(session, answered=False, question="sin respuesta")
    await _query(session, answered=True, feedback="not_helpful", question="no útil")
    headers = await _office(client, session)
    r = await client.get("/api/v1/assistant/unanswered", headers=headers)
    assert r.status_code == 200, r.text
    assert [q["question"] for q in r.json()["items"]] == ["no útil", "sin respuesta"]
    page = await client.get("/api/v1/assistant/unanswered", params={"limit": 1}, headers=headers)
    cursor = page.json()["next_cursor"]
    rest = await client.get(
        "/api/v1/assistant/unanswered", params={"limit": 1, "cursor": cursor}, headers=headers
    )
    assert [q["question"] for q in rest.json()["items"]] == ["sin respuesta"]
    _, municipal = await _municipal(client, session)
    assert_problem(await client.get("/api/v1/assistant/unanswered", headers=municipal), 403)
    assert_problem(await client.get("/api/v1/assistant/unanswered"), 401)


async def test_stats_give_the_deflection_rate(client, session):
    mun = await f.municipality(session, "06011")
    consultation = await f.consultation(session, mun.id)
    # Deflected: answered, not marked unhelpful, not turned into a consultation.
    await _query(session, answered=True, feedback="helpful")
    await _query(session, answered=True)
    # Not deflected.
    await _query(session, answered=True, feedback="not_helpful")
    await _query(session, answered=True, consultation_id=consultation.id)
    await _query(session, answered=False)
    headers = await _office(client, session)
    r = await client.get("/api/v1/assistant/stats", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "from_date": None,
        "to_date": None,
        "total": 5,
        "answered": 4,
        "helpful": 1,
        "not_helpful": 1,
        "converted": 1,
        "deflected": 2,
        "deflection_rate": 0.4,
    }
    empty = await client.get(
        "/api/v1/assistant/stats",
        params={"from": "2020-01-01", "to": "2020-12-31"},
        headers=headers,
    )
    assert empty.json()["total"] == 0
    assert empty.json()["deflection_rate"] is None
    backwards = await client.get(
        "/api/v1/assistant/stats",
        params={"from": "2021-01-01", "to": "2020-12-31"},
        headers=headers,
    )
    assert_problem(backwards, 422)
    _, municipal = await _municipal(client, session)
    assert_problem(await client.get("/api/v1/assistant/stats", headers=municipal), 403)
