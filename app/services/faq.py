"""FAQ knowledge base and the assistant that answers from it.

The assistant ranks published entries by a blend of PostgreSQL full-text search (Spanish
stemming on accent-free text) and trigram similarity of the normalised question, so that
accents, capitals, plurals and typing mistakes do not stop a good entry from being found.
Every question asked is kept (`AssistantQuery`) to measure deflection and to show staff what
the knowledge base is missing.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Float, and_, any_, case, cast, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnClause
from sqlmodel import col

from app.core import crud, ratelimit
from app.core.errors import Conflict, NotFound, UnprocessableEntity
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible, visible
from app.core.time import day_bounds
from app.models.area import CatalogueService
from app.models.audit import ActorType
from app.models.base import utcnow
from app.models.faq import AssistantQuery, FaqEntry, Feedback
from app.schemas.faq import (
    AskAnswer,
    AskResponse,
    AssistantStats,
    ConsultationDraft,
    FaqEntryCreate,
    FaqEntryUpdate,
    FeedbackResponse,
)

logger = logging.getLogger("app.services.faq")


# From this score up the best entry is given as the answer. Tuned on the demo knowledge base
# (app/seed/faq.py, the FAQ matching tests): the right entry for short, accent-free,
# upper-case or misspelt questions scores 0.50–1.00; unrelated questions stay at or below 0.34.
ANSWER_THRESHOLD = 0.40
# Entries scoring below this are not shown at all, not even as "maybe this helps".
SUGGESTION_FLOOR = 0.30
MAX_ANSWERS = 3

# Asks per client address and window (Redis fixed window).
ASK_LIMIT = 30
FEEDBACK_LIMIT = 30
RATE_WINDOW_SECONDS = 60

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
# Query words beyond this are ignored for coverage (the question is at most 500 characters).
MAX_LEXEMES = 24
# A misspelt word counts (by its trigram similarity) when at least this close to a word of the
# entry's question or tags.
FUZZY_WORD_MIN = 0.5

_SPANISH: ColumnClause[Any] = literal_column("'spanish'::regconfig")
_SPACES = re.compile(r"\s+")
_NOT_NULL_FIELDS = ("question", "answer", "tags", "is_published")


def normalize_question(text: str) -> str:
    """Lower-case, accent-free, single-spaced text: what trigram similarity compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped.lower()).strip()


# ---- Rate limits ------------------------------------------------------------------------


# ---- Knowledge base management -------------------------------------------------------------


def can_manage(actor: Actor, entry: FaqEntry) -> bool:
    """Office staff manage every entry; área staff only those of their own área."""
    if actor.is_office:
        return True
    return actor.is_area_staff and entry.area_id == actor.area_id


def _clean_tags(tags: list[str]) -> list[str]:
    """Tags are stored like normalised questions (lower-case, accent-free), once each."""
    out: list[str] = []
    for raw in tags:
        tag = normalize_question(raw)
        if not tag:
            raise UnprocessableEntity("Las etiquetas no pueden estar vacías")
        if len(tag) > MAX_TAG_LENGTH:
            raise UnprocessableEntity(
                f"Cada etiqueta admite como máximo {MAX_TAG_LENGTH} caracteres"
            )
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise UnprocessableEntity(f"Se admiten como máximo {MAX_TAGS} etiquetas")
    return out


async def _resolve_area_service(
    session: AsyncSession,
    actor: Actor,
    area_id: uuid.UUID | None,
    service_id: uuid.UUID | None,
) -> uuid.UUID | None:
    """The área the entry belongs to: the given one, or the service's; checks they agree and
    that área staff stay within their own área."""
    if service_id is not None:
        service = await session.get(CatalogueService, service_id)
        if service is None:
            raise UnprocessableEntity("El servicio indicado no existe")
        if area_id is None:
            area_id = service.area_id
        elif service.area_id != area_id:
            raise UnprocessableEntity("El servicio indicado no pertenece al área indicada")
    if actor.is_area_staff and not actor.is_office:
        if area_id is None:
            area_id = actor.area_id
        elif area_id != actor.area_id:
            raise UnprocessableEntity("Solo puede gestionar preguntas frecuentes de su propia área")
    return area_id


async def list_entries(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    *,
    include_unpublished: bool = False,
    area_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> tuple[list[FaqEntry], str | None]:
    stmt = select(FaqEntry).where(visible(FaqEntry, actor))
    published = col(FaqEntry.is_published).is_(True)
    if include_unpublished and actor.is_office:
        pass
    elif include_unpublished and actor.is_area_staff:
        stmt = stmt.where(or_(published, col(FaqEntry.area_id) == actor.area_id))
    else:
        stmt = stmt.where(published)
    if area_id:
        stmt = stmt.where(col(FaqEntry.area_id) == area_id)
    if service_id:
        stmt = stmt.where(col(FaqEntry.service_id) == service_id)
    if tag:
        stmt = stmt.where(any_(col(FaqEntry.tags)) == normalize_question(tag))
    if q:
        tsq = func.websearch_to_tsquery(_SPANISH, func.oaaa_unaccent(q))
        normalized = normalize_question(q)
        stmt = stmt.where(
            or_(
                col(FaqEntry.search_vector).op("@@")(tsq),
                func.word_similarity(normalized, col(FaqEntry.question_normalized)) >= 0.6,
            )
        )
    keys: list[Any] = [FaqEntry.question, FaqEntry.id]
    return await paginate(session, stmt, params, keys=keys)


async def get_entry(session: AsyncSession, actor: Actor, entry_id: uuid.UUID) -> FaqEntry:
    """One entry; unpublished ones exist only for those who may manage them."""
    entry = await get_visible(session, FaqEntry, entry_id, actor)
    if not entry.is_published and not can_manage(actor, entry):
        raise NotFound(f"La pregunta frecuente {entry_id} no existe")
    return entry


async def create_entry(session: AsyncSession, actor: Actor, data: FaqEntryCreate) -> FaqEntry:
    area_id = await _resolve_area_service(session, actor, data.area_id, data.service_id)
    entry = FaqEntry.model_validate(
        data,
        update={
            "area_id": area_id,
            "tags": _clean_tags(data.tags),
            "question": data.question.strip(),
            "question_normalized": normalize_question(data.question),
        },
    )
    return await crud.create(session, actor, entry, "faq_entry")


async def update_entry(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, data: FaqEntryUpdate
) -> FaqEntry:
    entry = await get_visible(session, FaqEntry, entry_id, actor)
    if not can_manage(actor, entry):
        # Another área's entry is, for área staff, an entry that does not exist.
        raise NotFound(f"La pregunta frecuente {entry_id} no existe")
    patch = data.model_dump(exclude_unset=True)
    nulls = [name for name in _NOT_NULL_FIELDS if name in patch and patch[name] is None]
    if nulls:
        raise UnprocessableEntity(f"Estos campos no admiten null: {', '.join(nulls)}")
    if "area_id" in patch or "service_id" in patch:
        area_id = patch.get("area_id", entry.area_id)
        service_id = patch.get("service_id", entry.service_id)
        if "area_id" in patch and "service_id" not in patch and service_id is not None:
            service = await session.get(CatalogueService, service_id)
            if service is not None and service.area_id != area_id:
                # Moving the entry to another área drops a service of the old one.
                service_id = None
                patch["service_id"] = None
        patch["area_id"] = await _resolve_area_service(session, actor, area_id, service_id)
    if "tags" in patch:
        patch["tags"] = _clean_tags(patch["tags"])
    if "question" in patch:
        patch["question"] = patch["question"].strip()
        patch["question_normalized"] = normalize_question(patch["question"])
    return await crud.update(session, actor, entry, patch, "faq_entry")


# ---- Matching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    faq_id: uuid.UUID
    question: str
    answer: str
    service_id: uuid.UUID | None
    score: float
    # The signals the score is made of, kept for tuning and tests.
    coverage: float
    question_coverage: float
    trigram: float


async def _query_lexemes(session: AsyncSession, question: str) -> list[str]:
    """The Spanish stems of the question's meaningful words (stop words dropped)."""
    vector = func.to_tsvector(_SPANISH, func.oaaa_unaccent(question))
    rows = await session.execute(select(func.unnest(func.tsvector_to_array(vector))))
    return [str(r) for r in rows.scalars().all()][:MAX_LEXEMES]


def _lexeme_query(lexeme: str, weight: str = "") -> Any:
    """A tsquery for one already-normalised lexeme, optionally restricted to a weight."""
    quoted = "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
    return cast(quoted + (f":{weight}" if weight else ""), TSQUERY)


async def match(session: AsyncSession, question: str, limit: int = MAX_ANSWERS) -> list[Match]:
    """The published entries that best answer `question`, best first, with their score.

    score = min(1, 0.40·question_coverage + 0.15·coverage + 0.35·trigram + 0.10·all_terms),
    in [0, 1], where, over the question's Spanish stems (accents and stop words dropped):
    - question_coverage: share of stems in the entry's question or tags (`search_vector`
      weights A/B); a stem not found there counts its best `word_similarity` with a word of
      the question or tags when that is ≥ FUZZY_WORD_MIN, i.e. a misspelt word counts partly;
    - coverage: share of stems found anywhere in the entry (question, tags or answer);
    - trigram: max(word_similarity, similarity) of the normalised question against the
      entry's `question_normalized`: it carries typos that stemming cannot match;
    - all_terms: 1 when `websearch_to_tsquery` of the whole question matches the entry.
    Ties go to the higher `similarity`, then to `ts_rank_cd`.
    """
    normalized = normalize_question(question)
    lexemes = await _query_lexemes(session, question)
    vector = col(FaqEntry.search_vector)
    trigram = func.greatest(
        func.word_similarity(normalized, col(FaqEntry.question_normalized)),
        func.similarity(normalized, col(FaqEntry.question_normalized)),
    )
    if lexemes:
        n = float(len(lexemes))
        anywhere = [case((vector.op("@@")(_lexeme_query(lx)), 1.0), else_=0.0) for lx in lexemes]
        # In the question or tags: an exact stem counts 1; failing that, the stem's best
        # trigram match with a word there (a misspelt word), when close enough.
        words = func.concat_ws(
            " ",
            col(FaqEntry.question_normalized),
            func.lower(func.oaaa_unaccent(func.oaaa_join_text(col(FaqEntry.tags)))),
        )
        in_question = []
        for lx in lexemes:
            fuzzy = func.word_similarity(lx, words)
            in_question.append(
                case(
                    (vector.op("@@")(_lexeme_query(lx, "AB")), 1.0),
                    (fuzzy >= FUZZY_WORD_MIN, fuzzy),
                    else_=0.0,
                )
            )
        coverage: Any = sum(anywhere[1:], anywhere[0]) / n
        question_coverage: Any = sum(in_question[1:], in_question[0]) / n
        any_lexeme = or_(*(vector.op("@@")(_lexeme_query(lx)) for lx in lexemes))
    else:
        coverage = question_coverage = cast(0.0, Float)
        any_lexeme = None
    websearch = func.websearch_to_tsquery(_SPANISH, func.oaaa_unaccent(question))
    all_terms = case((vector.op("@@")(websearch), 0.10), else_=0.0)
    score = func.least(1.0, 0.40 * question_coverage + 0.15 * coverage + 0.35 * trigram + all_terms)
    rank = func.ts_rank_cd(vector, websearch)
    # The knowledge base is small (hundreds of entries): scoring every published entry that
    # shares a stem or a fair share of trigrams with the question is cheap.
    candidates = [func.word_similarity(normalized, col(FaqEntry.question_normalized)) >= 0.3]
    if any_lexeme is not None:
        candidates.append(any_lexeme)
    stmt = (
        select(
            col(FaqEntry.id),
            col(FaqEntry.question),
            col(FaqEntry.answer),
            col(FaqEntry.service_id),
            score.label("score"),
            coverage.label("coverage"),
            question_coverage.label("question_coverage"),
            trigram.label("trigram"),
        )
        .where(col(FaqEntry.is_published).is_(True), or_(*candidates))
        # Ties (several entries holding every word) go to the closest question overall.
        .order_by(
            score.desc(),
            func.similarity(normalized, col(FaqEntry.question_normalized)).desc(),
            rank.desc(),
            col(FaqEntry.id),
        )
        .limit(limit)
    )
    rows = await session.execute(stmt)
    return [
        Match(
            faq_id=r.id,
            question=r.question,
            answer=r.answer,
            service_id=r.service_id,
            score=round(float(r.score), 4),
            coverage=round(float(r.coverage), 4),
            question_coverage=round(float(r.question_coverage), 4),
            trigram=round(float(r.trigram), 4),
        )
        for r in rows
    ]


# ---- The assistant -----------------------------------------------------------------------


ANSWERED_MESSAGE = (
    "Estas respuestas de la base de conocimiento pueden resolver su duda. "
    "Si no es así, puede abrir una consulta a la oficina."
)
UNANSWERED_MESSAGE = (
    "No hemos encontrado una respuesta suficientemente fiable a su pregunta. "
    "Puede abrir una consulta a la oficina: le dejamos un borrador con su pregunta."
)


async def ask(
    session: AsyncSession, redis: Redis, actor: Actor, question: str, client_ip: str | None
) -> AskResponse:
    """Answers from the knowledge base, or offers a consultation; the question is kept."""
    await ratelimit.enforce_rate_limit(
        redis, "assistant-ask", client_ip, ASK_LIMIT, RATE_WINDOW_SECONDS
    )
    matches = await match(session, question)
    best = matches[0] if matches else None
    answered = best is not None and best.score >= ANSWER_THRESHOLD
    is_person = actor.kind == ActorType.user
    record = AssistantQuery(
        question=question,
        answered=answered,
        best_faq_id=best.faq_id if best else None,
        best_score=best.score if best else None,
        municipality_id=actor.municipality_id if is_person else None,
        user_id=actor.id if is_person else None,
    )
    await crud.create(session, actor, record, "assistant_query")
    shown = [m for m in matches if m.score >= SUGGESTION_FLOOR]
    answers = [
        AskAnswer(faq_id=m.faq_id, question=m.question, answer=m.answer, score=m.score)
        for m in shown
    ]
    if answered:
        return AskResponse(
            query_id=record.id, answered=True, answers=answers, message=ANSWERED_MESSAGE
        )
    draft = ConsultationDraft(
        subject=question[:300],
        body=question,
        service_id=shown[0].service_id if shown else None,
        assistant_query_id=record.id,
    )
    return AskResponse(
        query_id=record.id,
        answered=False,
        answers=answers,
        message=UNANSWERED_MESSAGE,
        consultation_draft=draft,
    )


async def give_feedback(
    session: AsyncSession,
    redis: Redis,
    actor: Actor,
    query_id: uuid.UUID,
    helpful: bool,
    client_ip: str | None,
) -> FeedbackResponse:
    """Records once whether the answer helped."""
    await ratelimit.enforce_rate_limit(
        redis, "assistant-feedback", client_ip, FEEDBACK_LIMIT, RATE_WINDOW_SECONDS
    )
    # Not scoped: whoever asked holds the (random, unguessable) query id, and only that id.
    stmt = select(AssistantQuery).where(col(AssistantQuery.id) == query_id).with_for_update()
    record = (await session.execute(stmt)).scalars().first()
    if record is None:
        raise NotFound(f"La pregunta {query_id} no existe")
    if record.feedback is not None:
        raise Conflict("Esta respuesta ya se ha valorado")
    patch: dict[str, Any] = {
        "feedback": Feedback.helpful if helpful else Feedback.not_helpful,
        "feedback_at": utcnow(),
    }
    if helpful and record.answered and record.best_faq_id is not None:
        patch["resolved_by_faq_id"] = record.best_faq_id
    await crud.update(session, actor, record, patch, "assistant_query")
    return FeedbackResponse(
        query_id=record.id, feedback=patch["feedback"], feedback_at=patch["feedback_at"]
    )


async def list_unanswered(
    session: AsyncSession, actor: Actor, params: PageParams
) -> tuple[list[AssistantQuery], str | None]:
    """Questions the knowledge base could not answer, or whose answer did not help."""
    stmt = (
        select(AssistantQuery)
        .where(visible(AssistantQuery, actor))
        .where(
            or_(
                col(AssistantQuery.answered).is_(False),
                col(AssistantQuery.feedback) == Feedback.not_helpful,
            )
        )
    )
    keys: list[Any] = [AssistantQuery.created_at, AssistantQuery.id]
    return await paginate(session, stmt, params, keys=keys, descending=True)


async def stats(
    session: AsyncSession, actor: Actor, from_date: date | None, to_date: date | None
) -> AssistantStats:
    start, end = day_bounds(from_date, to_date)
    q = AssistantQuery
    not_helpful = col(q.feedback) == Feedback.not_helpful
    converted = col(q.consultation_id).is_not(None)
    deflected = and_(
        col(q.answered).is_(True),
        col(q.feedback).is_distinct_from(Feedback.not_helpful),
        col(q.consultation_id).is_(None),
    )

    def count_if(condition: Any) -> Any:
        return func.count().filter(condition)

    stmt = select(
        func.count(),
        count_if(col(q.answered).is_(True)),
        count_if(col(q.feedback) == Feedback.helpful),
        count_if(not_helpful),
        count_if(converted),
        count_if(deflected),
    ).where(visible(q, actor))
    if start:
        stmt = stmt.where(col(q.created_at) >= start)
    if end:
        stmt = stmt.where(col(q.created_at) < end)
    total, answered, helpful, unhelpful, conv, defl = (await session.execute(stmt)).one()
    return AssistantStats(
        from_date=from_date,
        to_date=to_date,
        total=total,
        answered=answered,
        helpful=helpful,
        not_helpful=unhelpful,
        converted=conv,
        deflected=defl,
        deflection_rate=round(defl / total, 4) if total else None,
    )
