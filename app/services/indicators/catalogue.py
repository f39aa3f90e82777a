"""The indicator catalogue: what each indicator measures, how it is counted and from which data.

Local process indicators *aligned with* SDG targets (never the official UN indicator: 16.6.1 is
budget execution, 17.17.1 money committed to partnerships) and two indicators of the Agenda
Urbana Española (AUE 10.4.2 and 10.2.3) defined in the office's own documents.

Each indicator is computed from one *source* query (one row per counted fact, with the columns
it can be disaggregated by) and the aggregates of its series; `computation.query_for` assembles
the exact statement that runs, which the metadata publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Dimension(StrEnum):
    municipality = "municipality"
    comarca = "comarca"
    area = "area"
    channel = "channel"
    modality = "modality"
    kind = "kind"


DIMENSION_LABELS: dict[Dimension, str] = {
    Dimension.municipality: "Entidad local",
    Dimension.comarca: "Comarca",
    Dimension.area: "Área",
    Dimension.channel: "Canal",
    Dimension.modality: "Modalidad",
    Dimension.kind: "Tipo de entidad",
}

# The source column each dimension groups by (every source query names its columns so).
DIMENSION_COLUMNS: dict[Dimension, str] = {
    Dimension.municipality: "municipality_id",
    Dimension.comarca: "comarca_id",
    Dimension.area: "area_id",
    Dimension.channel: "channel",
    Dimension.modality: "modality",
    Dimension.kind: "kind",
}


class SeriesKind(StrEnum):
    number = "number"
    mean = "mean"
    days = "days"
    yes_no = "yes_no"


@dataclass(frozen=True)
class Series:
    id: str
    name: str
    unit: str
    aggregate: str
    kind: SeriesKind = SeriesKind.number
    # Only at the total (the indicator's own yes/no verdict has no breakdown).
    total_only: bool = False
    # The same figure from the monthly aggregates (None: the same expression).
    rollup_aggregate: str | None = None


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    definition: str
    aligned_with: str
    framework: str
    unit: str
    counting_rule: str
    source: str
    periodicity: str
    series: tuple[Series, ...]
    source_sql: str
    public_dimensions: tuple[Dimension, ...]
    staff_dimensions: tuple[Dimension, ...]
    numerator: str | None = None
    denominator: str | None = None
    reporting_status: str = "complete"
    published: bool = True
    # Cells counting people (or their answers) are suppressed below the threshold in public.
    disclosure_control: bool = False
    default_dimension: Dimension | None = None
    sdg_goal: str | None = None
    target_id: str | None = None
    method_note: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    sort_order: int = 0
    # Whole-month periods read the worker's monthly aggregates: the source for a disaggregation
    # (None: live source only).
    rollup: Callable[[Dimension | None], str] | None = None

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self.public_dimensions + self.staff_dimensions


# Parameters every source query receives: :start, :end (instants, [start, end)), :start_day,
# :end_day (inclusive dates in Europe/Madrid) and :today (today in Europe/Madrid).

_ENTITY_COLUMNS = "m.id AS municipality_id, m.comarca_id, m.kind"

_HELD_TRAINING = """
    SELECT t.id, t.modality, t.area_id
    FROM training_action t
    LEFT JOIN LATERAL (
        SELECT min(s.starts_at) AS first_at FROM training_session s WHERE s.training_id = t.id
    ) f ON true
    WHERE coalesce((f.first_at AT TIME ZONE 'Europe/Madrid')::date, t.starts_on)
          BETWEEN :start_day AND least(CAST(:end_day AS date), CAST(:today AS date))
"""

TRAINING_ACTIONS = Indicator(
    id="oaaa-16-6-formacion",
    name="Acciones formativas realizadas",
    definition=(
        "Número de acciones formativas de la Oficina (para alcaldes y alcaldesas, personal"
        " municipal y personal de las áreas) realizadas en el periodo."
    ),
    aligned_with="Alineado con la meta 16.6 de los ODS (instituciones eficaces y transparentes)",
    framework="ODS",
    sdg_goal="16",
    target_id="16.6",
    unit="acciones formativas",
    counting_rule=(
        "Una acción cuenta en el periodo que contiene la fecha de su primera sesión (o su fecha"
        " de inicio si no tiene sesiones), siempre que esa fecha no sea posterior a hoy. Cada"
        " acción cuenta una vez aunque tenga varias sesiones."
    ),
    source="Plataforma OAAA: acciones formativas y sus sesiones",
    periodicity="Mensual, trimestral y anual",
    series=(Series("acciones", "Acciones formativas", "acciones", "count(*)"),),
    source_sql=f"SELECT held.id, held.modality, held.area_id FROM ({_HELD_TRAINING}) held",  # noqa: S608
    public_dimensions=(Dimension.modality, Dimension.area),
    staff_dimensions=(),
    sort_order=1,
)

VISITS = Indicator(
    id="oaaa-16-7-visitas",
    name="Visitas recibidas al Punto de Información",
    definition=(
        "Número de visitas al Punto de Información de la Oficina: visitas a sus páginas web"
        " (contadas sin cookies ni identificadores) y visitas presenciales registradas por la"
        " Oficina, por separado y en total."
    ),
    aligned_with="Alineado con la meta 16.7 de los ODS (decisiones inclusivas y participativas)",
    framework="ODS",
    sdg_goal="16",
    target_id="16.7",
    unit="visitas",
    counting_rule=(
        "Suma de los recuentos diarios (día en Europe/Madrid) de cada página y canal; una"
        " persona que vuelve otro día o a otra página cuenta de nuevo. No se guarda quién visita."
    ),
    source="Plataforma OAAA: recuentos diarios de visitas (visit_daily)",
    periodicity="Mensual, trimestral y anual",
    series=(Series("visitas", "Visitas", "visitas", "coalesce(sum(count), 0)"),),
    source_sql=(
        "SELECT v.channel, v.count FROM visit_daily v WHERE v.day BETWEEN :start_day AND :end_day"
    ),
    public_dimensions=(Dimension.channel,),
    staff_dimensions=(),
    default_dimension=Dimension.channel,
    sort_order=2,
)

_IN_MONTHS = "r.month BETWEEN :first_month AND :last_month"


def _consultations_rollup(dim: Dimension | None) -> str:
    if dim == Dimension.channel or dim is None:
        return (
            "SELECT r.n, r.key AS channel FROM indicator_consultation_month r"  # noqa: S608
            f" WHERE r.dim = 'channel' AND {_IN_MONTHS}"
        )
    if dim == Dimension.area:
        return (
            "SELECT r.n, CAST(nullif(r.key, '') AS uuid) AS area_id"  # noqa: S608
            f" FROM indicator_consultation_month r WHERE r.dim = 'area' AND {_IN_MONTHS}"
        )
    return (
        f"SELECT r.n, {_ENTITY_COLUMNS} FROM indicator_consultation_month r"  # noqa: S608
        " JOIN municipality m ON m.id = CAST(r.key AS uuid)"
        f" WHERE r.dim = 'municipality' AND {_IN_MONTHS}"
    )


def _entities_rollup(dim: Dimension | None) -> str:
    return (
        f"SELECT {_ENTITY_COLUMNS} FROM municipality m WHERE m.id IN ("  # noqa: S608
        f" SELECT r.municipality_id FROM indicator_entity_month r WHERE {_IN_MONTHS})"
    )


def _forwarded_rollup(dim: Dimension | None) -> str:
    return (
        "SELECT r.area_id, nullif(r.days, -1) AS days, r.n FROM indicator_forwarded_month r"  # noqa: S608
        f" WHERE {_IN_MONTHS}"
    )


CONSULTATIONS = Indicator(
    id="oaaa-16-7-consultas",
    name="Consultas y trámites recibidos",
    definition=(
        "Número de consultas y trámites recibidos por la Oficina de los ayuntamientos y"
        " entidades locales menores, por canal de entrada."
    ),
    aligned_with="Alineado con la meta 16.7 de los ODS (decisiones inclusivas y participativas)",
    framework="ODS",
    sdg_goal="16",
    target_id="16.7",
    unit="consultas",
    counting_rule=(
        "Cada consulta cuenta una vez, en el periodo que contiene su fecha de recepción"
        " (Europe/Madrid), sea cual sea su estado actual. Las reaperturas no cuentan de nuevo."
    ),
    source="Plataforma OAAA: consultas (todas las vías de entrada)",
    periodicity="Mensual, trimestral y anual",
    series=(
        Series(
            "consultas",
            "Consultas recibidas",
            "consultas",
            "count(*)",
            rollup_aggregate="coalesce(sum(n), 0)",
        ),
    ),
    rollup=_consultations_rollup,
    source_sql=(
        f"SELECT c.channel, c.area_id, {_ENTITY_COLUMNS}"  # noqa: S608
        " FROM consultation c JOIN municipality m ON m.id = c.municipality_id"
        " WHERE c.received_at >= :start AND c.received_at < :end"
    ),
    public_dimensions=(
        Dimension.channel,
        Dimension.area,
        Dimension.kind,
        Dimension.comarca,
        Dimension.municipality,
    ),
    staff_dimensions=(),
    disclosure_control=True,
    default_dimension=Dimension.channel,
    sort_order=3,
)

ENTITIES = Indicator(
    id="oaaa-17-17-entidades",
    name="Municipios y ELM que utilizan los servicios de la Oficina",
    definition=(
        "Número de ayuntamientos y entidades locales menores (ELM) que utilizaron los servicios"
        " de la Oficina en el periodo."
    ),
    aligned_with="Alineado con la meta 17.17 de los ODS (alianzas en la esfera pública)",
    framework="ODS",
    sdg_goal="17",
    target_id="17.17",
    unit="entidades locales",
    counting_rule=(
        "Una entidad (municipio o ELM) cuenta una vez si en el periodo tuvo al menos una"
        " consulta recibida, un expediente abierto, una inscripción vigente en un evento del"
        " calendario creada en el periodo o una asistencia a una acción formativa realizada en"
        " el periodo. Una ELM cuenta por sí misma, no por su municipio matriz."
    ),
    source="Plataforma OAAA: consultas, expedientes, inscripciones y asistencias a formación",
    periodicity="Mensual, trimestral y anual",
    numerator="Entidades con al menos un uso en el periodo",
    denominator="Entidades locales activas de la provincia (serie «porcentaje»)",
    series=(
        Series("entidades", "Entidades que usan la Oficina", "entidades", "count(*)"),
        Series(
            "porcentaje",
            "Porcentaje de las entidades activas",
            "porcentaje",
            "round(100.0 * count(*) / (SELECT count(*) FROM municipality WHERE is_active), 2)",
            kind=SeriesKind.mean,
            total_only=True,
        ),
    ),
    source_sql=(
        f"SELECT {_ENTITY_COLUMNS} FROM municipality m WHERE m.id IN ("  # noqa: S608
        " SELECT c.municipality_id FROM consultation c"
        "  WHERE c.received_at >= :start AND c.received_at < :end"
        " UNION SELECT e.municipality_id FROM expediente e"
        "  WHERE e.opened_at >= :start AND e.opened_at < :end"
        " UNION SELECT r.municipality_id FROM event_registration r"
        "  WHERE r.status = 'registered' AND r.created_at >= :start AND r.created_at < :end"
        " UNION SELECT a.municipality_id FROM training_attendance a"
        f"  JOIN ({_HELD_TRAINING}) held ON held.id = a.training_id"
        "  WHERE a.municipality_id IS NOT NULL)"
    ),
    public_dimensions=(Dimension.kind, Dimension.comarca),
    staff_dimensions=(),
    default_dimension=Dimension.kind,
    rollup=_entities_rollup,
    sort_order=4,
)


def _people_rollup(dim: Dimension | None) -> str:
    return (
        "SELECT r.person, m.id AS municipality_id, m.comarca_id, coalesce(m.kind, 'none') AS kind"  # noqa: S608
        " FROM indicator_person_month r"
        " LEFT JOIN municipality m ON m.id = CAST(nullif(r.entity, '') AS uuid)"
        f" WHERE {_IN_MONTHS}"
    )


def _surveys_rollup(dim: Dimension | None) -> str:
    if dim is None or dim == Dimension.area:
        return (
            "SELECT r.n, r.sa, r.sp, r.sr, CAST(nullif(r.key, '') AS uuid) AS area_id"  # noqa: S608
            f" FROM indicator_survey_month r WHERE r.dim = 'area' AND {_IN_MONTHS}"
        )
    return (
        f"SELECT r.n, r.sa, r.sp, r.sr, {_ENTITY_COLUMNS} FROM indicator_survey_month r"  # noqa: S608
        " JOIN municipality m ON m.id = CAST(r.key AS uuid)"
        f" WHERE r.dim = 'municipality' AND {_IN_MONTHS}"
    )


PEOPLE_TRAINED = Indicator(
    id="aue-10-4-2",
    name="Personas beneficiarias de actividades de formación y sensibilización",
    definition=(
        "AUE 10.4.2: número de personas distintas beneficiarias de las actividades de formación"
        " y sensibilización de la Oficina (personas, no asistencias)."
    ),
    aligned_with="Indicador 10.4.2 de la Agenda Urbana Española",
    framework="AUE",
    unit="personas",
    counting_rule=(
        "Una persona es el nombre de la asistencia normalizado (minúsculas, sin tildes ni"
        " espacios repetidos) dentro de su entidad local; quien asiste a varias acciones del"
        " periodo cuenta una vez. Las asistencias sin nombre no pueden deduplicarse y cuentan"
        " una persona cada una. Sólo acciones realizadas en el periodo."
    ),
    source="Plataforma OAAA: asistencias a las acciones formativas",
    periodicity="Anual (también mensual y trimestral)",
    series=(Series("personas", "Personas beneficiarias", "personas", "count(DISTINCT person)"),),
    source_sql=(
        "SELECT p.person, p.municipality_id, m.comarca_id, coalesce(m.kind, 'none') AS kind"  # noqa: S608
        " FROM (SELECT a.municipality_id, coalesce(a.municipality_id::text, '-') || '|' ||"
        "   coalesce(nullif(lower(regexp_replace(btrim(oaaa_unaccent(a.name)), '\\s+', ' ', 'g')),"
        "   ''), 'asistencia:' || a.id::text) AS person"
        "  FROM training_attendance a"
        f"  JOIN ({_HELD_TRAINING}) held ON held.id = a.training_id) p"
        " LEFT JOIN municipality m ON m.id = p.municipality_id"
    ),
    public_dimensions=(Dimension.kind, Dimension.comarca),
    staff_dimensions=(Dimension.municipality,),
    disclosure_control=True,
    rollup=_people_rollup,
    sort_order=5,
)

_INTEGRATED_AREAS = (
    "(SELECT count(DISTINCT i.area_id) FROM integration_client i"
    " WHERE i.is_active AND i.created_at < :end)"
)

GOVERNANCE = Indicator(
    id="aue-10-2-3",
    name="Mecanismos efectivos de gobernanza multinivel",
    definition=(
        "AUE 10.2.3: ¿Se dispone de mecanismos efectivos para favorecer la gobernanza multinivel"
        " y, en particular, la coordinación de los instrumentos de ordenación? Se publica como"
        " sí/no junto con sus evidencias."
    ),
    aligned_with="Indicador 10.2.3 de la Agenda Urbana Española",
    framework="AUE",
    unit="sí (1) / no (0), con evidencias",
    counting_rule=(
        "Sí (1) cuando en el periodo hay al menos un área integrada mediante la API de"
        " integración (cliente activo) y al menos una consulta derivada a un área y resuelta"
        " a través de ella; si no, no (0). Evidencias: áreas integradas (cliente activo creado"
        " antes del fin del periodo), consultas cuya primera derivación a un área cae en el"
        " periodo (por el área que la tiene ahora), cuántas de ellas están resueltas"
        " (respondidas o cerradas) y la mediana de días naturales completos desde la recepción"
        " hasta la respuesta."
    ),
    source="Plataforma OAAA: clientes de integración de las áreas, historial de las consultas",
    periodicity="Anual (también mensual y trimestral)",
    series=(
        Series(
            "gobernanza",
            "¿Mecanismos efectivos de gobernanza multinivel? (1 = sí)",
            "sí/no",
            f"CASE WHEN {_INTEGRATED_AREAS} > 0 AND count(days) > 0 THEN 1 ELSE 0 END",
            kind=SeriesKind.yes_no,
            total_only=True,
            rollup_aggregate=(
                f"CASE WHEN {_INTEGRATED_AREAS} > 0"
                " AND coalesce(sum(n) FILTER (WHERE days IS NOT NULL), 0) > 0 THEN 1 ELSE 0 END"
            ),
        ),
        Series(
            "areas_integradas",
            "Áreas integradas mediante la API",
            "áreas",
            _INTEGRATED_AREAS,
            total_only=True,
        ),
        Series(
            "derivadas",
            "Consultas derivadas a las áreas",
            "consultas",
            "count(*)",
            rollup_aggregate="coalesce(sum(n), 0)",
        ),
        Series(
            "resueltas",
            "Consultas derivadas y resueltas a través de las áreas",
            "consultas",
            "count(days)",
            rollup_aggregate="coalesce(sum(n) FILTER (WHERE days IS NOT NULL), 0)",
        ),
        Series(
            "mediana_dias",
            "Mediana de días naturales completos hasta la respuesta (derivadas y resueltas)",
            "días",
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY days)",
            kind=SeriesKind.days,
            rollup_aggregate="oaaa_weighted_median(array_agg(days), array_agg(n))",
        ),
    ),
    source_sql=(
        "SELECT c.area_id, CASE WHEN coalesce(c.answered_at, c.closed_at) IS NOT NULL THEN"
        " CAST(greatest(floor(extract(epoch FROM coalesce(c.answered_at, c.closed_at)"
        " - c.received_at) / 86400), 0) AS integer) END AS days"
        " FROM consultation c JOIN (SELECT e.consultation_id FROM consultation_event e"
        "  WHERE e.to_status = 'forwarded' GROUP BY e.consultation_id"
        "  HAVING min(e.occurred_at) >= :start AND min(e.occurred_at) < :end) f"
        "  ON f.consultation_id = c.id"
        " WHERE c.area_id IS NOT NULL"
    ),
    rollup=_forwarded_rollup,
    public_dimensions=(Dimension.area,),
    staff_dimensions=(),
    sort_order=6,
)

SATISFACTION = Indicator(
    id="oaaa-16-6-satisfaccion",
    name="Satisfacción de los ayuntamientos con los servicios de la Oficina",
    definition=(
        "Medición anual de la satisfacción de los ayuntamientos y ELM en tres dimensiones:"
        " atención recibida, proceso de tramitación seguido y plazos, y resolución de"
        " problemas (puntuación media de 1 a 5), con el número de respuestas."
    ),
    aligned_with="Alineado con la meta 16.6 de los ODS (instituciones eficaces y transparentes)",
    framework="ODS",
    sdg_goal="16",
    target_id="16.6",
    unit="puntuación media (1-5)",
    counting_rule=(
        "Cada encuesta respondida en el periodo (fecha de respuesta, Europe/Madrid) cuenta una"
        " vez; la media de cada dimensión es la media aritmética de las respuestas."
    ),
    source="Plataforma OAAA: encuestas de satisfacción al cerrar cada consulta",
    periodicity="Anual",
    series=(
        Series(
            "respuestas",
            "Respuestas",
            "respuestas",
            "count(*)",
            rollup_aggregate="coalesce(sum(n), 0)",
        ),
        Series(
            "atencion",
            "Atención recibida",
            "puntuación media (1-5)",
            "round(avg(attention), 2)",
            kind=SeriesKind.mean,
            rollup_aggregate="round(sum(sa) / CAST(nullif(sum(n), 0) AS numeric), 2)",
        ),
        Series(
            "proceso",
            "Proceso de tramitación seguido y plazos",
            "puntuación media (1-5)",
            "round(avg(process), 2)",
            kind=SeriesKind.mean,
            rollup_aggregate="round(sum(sp) / CAST(nullif(sum(n), 0) AS numeric), 2)",
        ),
        Series(
            "resolucion",
            "Resolución de problemas",
            "puntuación media (1-5)",
            "round(avg(resolution), 2)",
            kind=SeriesKind.mean,
            rollup_aggregate="round(sum(sr) / CAST(nullif(sum(n), 0) AS numeric), 2)",
        ),
    ),
    source_sql=(
        "SELECT s.attention, s.process, s.resolution, s.area_id,"  # noqa: S608
        f" {_ENTITY_COLUMNS}"
        " FROM satisfaction_survey s JOIN municipality m ON m.id = s.municipality_id"
        " WHERE s.answered_at >= :start AND s.answered_at < :end"
    ),
    public_dimensions=(Dimension.area, Dimension.kind, Dimension.comarca),
    staff_dimensions=(Dimension.municipality,),
    disclosure_control=True,
    rollup=_surveys_rollup,
    method_note=(
        "Sigue en parte el método del indicador 16.6.2 de los ODS: se pregunta por la última"
        " experiencia con el servicio (la consulta recién cerrada) y por dimensiones de la"
        " calidad del servicio; usa una escala de 1 a 5 y no una muestra de población, por lo"
        " que no es el indicador oficial 16.6.2."
    ),
    sort_order=7,
)

CATALOGUE: tuple[Indicator, ...] = (
    TRAINING_ACTIONS,
    VISITS,
    CONSULTATIONS,
    ENTITIES,
    PEOPLE_TRAINED,
    GOVERNANCE,
    SATISFACTION,
)
BY_ID: dict[str, Indicator] = {i.id: i for i in CATALOGUE}
