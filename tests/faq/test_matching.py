"""The assistant's matcher on the demo knowledge base: accents, capitals and typos."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.seed.demo import seed
from app.seed.faq import FAQS, _demo_id
from app.services.faq import ANSWER_THRESHOLD, match, normalize_question

KEY_OF = {_demo_id("faq", item.key): item.key for item in FAQS}


@pytest.fixture
async def knowledge_base(session):
    await seed(session)
    await session.commit()
    return session


def test_normalize_question_strips_accents_case_and_spaces():
    assert normalize_question("  ¿Cómo   SOLICITO una\tSubvención  de AÑO? ") == (
        "¿como solicito una subvencion de ano?"
    )


async def test_the_seed_has_thirty_published_demo_entries(knowledge_base):
    rows = (
        await knowledge_base.execute(
            text("SELECT is_published, answer, question_normalized, question FROM faq_entry")
        )
    ).all()
    assert len(rows) >= 30
    assert all(r.is_published for r in rows)
    assert all("Contenido de demostración" in r.answer for r in rows)
    assert all(r.question_normalized == normalize_question(r.question) for r in rows)


@pytest.mark.parametrize(
    ("question", "acceptable"),
    [
        ("certifcado digital", {"certificado-empleado"}),
        ("sertificado de empleado publico", {"certificado-empleado"}),
        ("subvencion", {"subvencion-empleo", "subvencion-justificar", "subvenciones-abiertas"}),
        ("subvenciónes de empleo", {"subvencion-empleo"}),
        ("CAMINOS RURALES", {"caminos-rurales", "caminos-plazo"}),
        ("Sede Electrónica", {"sede-acceso", "sede-incidencia"}),
        ("sede electronca", {"sede-acceso", "sede-incidencia"}),
        ("planes provinziales", {"planes-provinciales"}),
        ("dias abiles", {"dias-habiles"}),
        ("justificar subbencion", {"subvencion-justificar"}),
        ("suscribirme al calendario desde outlok", {"calendario-outlook"}),
        ("perdi el codigo de seguimiento", {"codigo-perdido"}),
        ("como abro una consulta", {"abrir-consulta"}),
    ],
)
async def test_finds_the_right_entry_despite_accents_case_and_typos(
    knowledge_base, question, acceptable
):
    best = (await match(knowledge_base, question))[0]
    assert KEY_OF[best.faq_id] in acceptable
    assert ANSWER_THRESHOLD <= best.score <= 1


@pytest.mark.parametrize(
    "question",
    [
        "quiero adoptar un perro",
        "horario de la piscina municipal en verano",
        "que tiempo hara mañana en Merida",
        "convocatoria de oposiciones de policia local",
        "asdfgh qwerty zxcv",
    ],
)
async def test_unrelated_questions_stay_below_the_threshold(knowledge_base, question):
    matches = await match(knowledge_base, question)
    assert all(m.score < ANSWER_THRESHOLD for m in matches)


async def test_scores_are_ordered_and_at_most_three(knowledge_base):
    matches = await match(knowledge_base, "certificado digital")
    assert 1 <= len(matches) <= 3
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)


async def test_unpublished_entries_are_never_matched(knowledge_base):
    await knowledge_base.execute(text("UPDATE faq_entry SET is_published = false"))
    await knowledge_base.commit()
    assert await match(knowledge_base, "certificado digital") == []


async def test_sql_metacharacters_are_plain_text(knowledge_base):
    matches = await match(knowledge_base, "'); DROP TABLE faq_entry; -- \\ : & | ! <->")
    assert all(m.score < ANSWER_THRESHOLD for m in matches)
    count = (await knowledge_base.execute(text("SELECT count(*) FROM faq_entry"))).scalar_one()
    assert count == len(FAQS)
