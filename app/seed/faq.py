"""Demo knowledge base of the FAQ assistant: frequent questions of the municipalities.

Idempotent like `app.seed.demo`: deterministic ids, only missing entries are added and entries that
staff have since edited are left alone. Every answer says it is example content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.area import Area
from app.models.faq import FaqEntry
from app.services.faq import normalize_question

DEMO_NOTE = "Contenido de demostración."


@dataclass(frozen=True)
class DemoFaq:
    key: str
    area_code: str | None
    service_code: str | None
    tags: tuple[str, ...]
    question: str
    answer: str


FAQS: list[DemoFaq] = [
    # --- La oficina: consultas, referencias, plazos, calendario ------------------------------
    DemoFaq(
        "abrir-consulta", None, None, ("consultas", "oficina", "alta"),
        "¿Cómo abro una consulta a la Oficina de Atención a Alcaldes y Alcaldesas?",
        "Puede abrir una consulta desde esta plataforma (apartado «Consultas», botón «Nueva "
        "consulta»), por correo electrónico, por teléfono, de forma presencial o por "
        "videollamada. Indique el asunto, el municipio y, si lo conoce, el servicio del "
        "catálogo relacionado. La oficina la revisa y la responde o la remite al área "
        "competente.",
    ),
    DemoFaq(
        "contacto-oficina", None, None, ("contacto", "horario", "telefono", "oficina"),
        "¿Dónde está la oficina y cómo contacto con ella?",
        "La Oficina de Atención a Alcaldes y Alcaldesas atiende de lunes a viernes en horario "
        "de mañana, en la sede de la Diputación de Badajoz, por teléfono, por correo "
        "electrónico, por videollamada con cita previa y a través de esta plataforma. Los "
        "datos de contacto actualizados figuran en la página de la oficina.",
    ),
    DemoFaq(
        "seguir-consulta", None, None, ("consultas", "seguimiento", "referencia", "codigo"),
        "¿Cómo puedo seguir el estado de mi consulta con la referencia y el código?",
        "Al registrar la consulta recibe una referencia (por ejemplo, OAAA-2026-000123) y un "
        "código de seguimiento que se muestra una sola vez. Con ambos puede consultar el "
        "estado, el historial y las respuestas públicas sin necesidad de registro "
        "electrónico, desde la página de seguimiento de consultas.",
    ),
    DemoFaq(
        "codigo-perdido", None, None, ("consultas", "codigo", "seguimiento"),
        "He perdido el código de seguimiento de mi consulta, ¿qué hago?",
        "El código de seguimiento no se puede recuperar porque no se guarda en claro. "
        "Si tiene cuenta en la plataforma, entre con su usuario y verá todas las consultas "
        "de su municipio. Si no, llame a la oficina indicando la referencia: el personal "
        "puede generar un código nuevo.",
    ),
    DemoFaq(
        "plazo-respuesta", None, None, ("plazos", "dias habiles", "consultas"),
        "¿En qué plazo responde la oficina a una consulta?",
        "Cada servicio tiene un plazo de primera respuesta y otro de resolución, contados en "
        "días hábiles. La fecha prevista aparece en la ficha de la consulta. Mientras la "
        "oficina espera documentación o una aclaración del ayuntamiento, el plazo queda en "
        "pausa.",
    ),
    DemoFaq(
        "dias-habiles", None, None, ("plazos", "dias habiles", "festivos", "ley 39/2015"),
        "¿Cómo se cuentan los plazos en días hábiles?",
        "Como establece el artículo 30 de la Ley 39/2015, no son hábiles los sábados, los "
        "domingos ni los festivos nacionales, los de la Comunidad Autónoma de Extremadura y "
        "los locales del municipio. Los plazos en meses se cuentan de fecha a fecha y, si el "
        "último día es inhábil, el plazo termina el primer día hábil siguiente.",
    ),
    DemoFaq(
        "punto-informativo", None, None, ("calendario", "punto informativo", "eventos"),
        "¿Qué es el Punto Informativo y el calendario de la oficina?",
        "Es un calendario único para los municipios que reúne los eventos (presenciales, en "
        "línea o híbridos), las convocatorias de subvenciones con sus plazos de solicitud, "
        "las actividades de participación y los comunicados de las áreas, para que cada "
        "ayuntamiento pueda organizar sus prioridades.",
    ),
    DemoFaq(
        "calendario-outlook", None, None, ("calendario", "ical", "outlook", "google"),
        "¿Puedo suscribirme al calendario desde Outlook o Google Calendar?",
        "Sí. El calendario se publica en formato iCalendar: copie la dirección de suscripción "
        "(pública o la de su municipio) y añádala en Outlook, Google Calendar o Thunderbird "
        "como calendario de Internet. Los cambios se actualizan solos.",
    ),
    DemoFaq(
        "cuenta-acceso", None, None, ("acceso", "usuario", "contraseña", "cuenta"),
        "¿Cómo consigo un usuario para acceder a la plataforma de la oficina?",
        "Las cuentas las da de alta la administración de la plataforma a petición del "
        "ayuntamiento. Envíe una solicitud desde el correo institucional de la alcaldía o la "
        "secretaría indicando nombre, cargo y correo de la persona. Si olvidó la contraseña, "
        "pida su restablecimiento a la oficina.",
    ),
    DemoFaq(
        "encuesta-satisfaccion", None, None, ("encuesta", "satisfaccion", "calidad"),
        "¿Para qué sirve la encuesta de satisfacción que recibo al cerrar una consulta?",
        "Nos permite medir la atención recibida, el proceso y los plazos, y la resolución del "
        "problema, en una escala de 1 a 5. Es breve, se responde una sola vez por consulta y "
        "puede hacerse desde el enlace recibido sin iniciar sesión.",
    ),
    DemoFaq(
        "sugerencias", None, None, ("sugerencias", "nuevos servicios", "participacion"),
        "¿Cómo propongo una sugerencia o pido un servicio nuevo a la Diputación?",
        "Desde el apartado «Sugerencias» de la plataforma puede enviar una sugerencia o una "
        "solicitud de nuevo servicio. La oficina la estudia, le informa del estado (recibida, "
        "en estudio, aceptada, rechazada o implantada) y publica una respuesta.",
    ),
    # --- Transformación Digital -------------------------------------------------------------
    DemoFaq(
        "sede-acceso", "transformacion-digital", "sede-electronica",
        ("sede electronica", "acceso", "registro"),
        "¿Cómo accedo a la sede electrónica de la Diputación?",
        "Se accede desde la web de la Diputación, enlace «Sede electrónica», con certificado "
        "digital, DNI electrónico o Cl@ve. Desde allí puede presentar solicitudes en el "
        "registro electrónico y consultar sus expedientes y notificaciones.",
    ),
    DemoFaq(
        "sede-incidencia", "transformacion-digital", "sede-electronica",
        ("sede electronica", "incidencia", "error", "soporte"),
        "La sede electrónica me da un error al firmar, ¿qué puedo hacer?",
        "Compruebe que tiene instalada la última versión de AutoFirma, que el certificado no "
        "ha caducado y que el navegador permite abrir la aplicación de firma. Si el error "
        "continúa, abra una consulta al servicio de soporte de sede electrónica adjuntando "
        "una captura del mensaje.",
    ),
    DemoFaq(
        "registro-electronico", "transformacion-digital", "sede-electronica",
        ("registro", "sede electronica", "justificante"),
        "¿Cómo presento un escrito en el registro electrónico y obtengo el justificante?",
        "En la sede electrónica elija «Registro electrónico general», rellene el formulario, "
        "adjunte los documentos y firme. Al terminar se genera un justificante con número y "
        "fecha de registro que conviene descargar y guardar.",
    ),
    DemoFaq(
        "certificado-empleado", "transformacion-digital", "certificados-digitales",
        ("certificado digital", "empleado publico", "firma"),
        "¿Cómo obtengo un certificado digital de empleado público?",
        "El ayuntamiento lo solicita para la persona empleada a través del servicio de "
        "certificados electrónicos. Después, la persona acude con su DNI a la oficina de "
        "registro indicada para acreditar su identidad y descarga el certificado con el "
        "código que recibe.",
    ),
    DemoFaq(
        "certificado-renovar", "transformacion-digital", "certificados-digitales",
        ("certificado digital", "renovacion", "caducidad"),
        "Mi certificado electrónico va a caducar, ¿cómo lo renuevo?",
        "Los certificados pueden renovarse en línea durante los días previos a su caducidad "
        "si no han pasado más de cinco años desde la acreditación presencial. Si ya ha "
        "caducado, hay que solicitar uno nuevo. El servicio de certificados avisa con "
        "antelación.",
    ),
    DemoFaq(
        "certificado-sello", "transformacion-digital", "certificados-digitales",
        ("certificado", "sello electronico", "ayuntamiento"),
        "¿Qué es el sello electrónico del ayuntamiento y cómo se solicita?",
        "Es el certificado que identifica al ayuntamiento (no a una persona) en las "
        "actuaciones automatizadas, como los justificantes de registro. Lo solicita la "
        "alcaldía mediante el servicio de certificados electrónicos.",
    ),
    # --- Desarrollo Local ---------------------------------------------------------------------
    DemoFaq(
        "subvenciones-abiertas", "desarrollo-local", "subvenciones-empleo",
        ("subvenciones", "convocatorias", "ayudas"),
        "¿Dónde consulto las subvenciones y convocatorias abiertas para ayuntamientos?",
        "Las convocatorias abiertas aparecen en el calendario del Punto Informativo con su "
        "plazo de solicitud, y se publican en el Boletín Oficial de la Provincia y en la "
        "sede electrónica. Puede filtrar el calendario por tipo «convocatoria».",
    ),
    DemoFaq(
        "subvencion-empleo", "desarrollo-local", "subvenciones-empleo",
        ("subvenciones", "empleo", "planes de empleo"),
        "¿Cómo solicito una subvención para el plan de empleo local?",
        "Cuando la convocatoria esté abierta, preséntela en la sede electrónica con la "
        "memoria de las contrataciones previstas y el certificado de la secretaría. El "
        "servicio de subvenciones de empleo puede revisar el borrador antes de presentarlo.",
    ),
    DemoFaq(
        "subvencion-justificar", "desarrollo-local", "subvenciones-empleo",
        ("subvenciones", "justificacion", "plazos"),
        "¿Cómo y cuándo se justifica una subvención concedida?",
        "La resolución de concesión fija el plazo y la documentación: normalmente una cuenta "
        "justificativa con facturas, nóminas y justificantes de pago. Si necesita ampliar el "
        "plazo, pídalo antes de que termine.",
    ),
    DemoFaq(
        "fondos-europeos", "desarrollo-local", "fondos-europeos",
        ("fondos europeos", "next generation", "feder"),
        "¿Me pueden asesorar para presentar un proyecto a fondos europeos?",
        "Sí. El servicio de asesoramiento en fondos europeos orienta sobre las convocatorias "
        "adecuadas al proyecto, los requisitos y la documentación. Abra una consulta "
        "describiendo la actuación y su presupuesto aproximado.",
    ),
    # --- Fomento --------------------------------------------------------------------------------
    DemoFaq(
        "caminos-rurales", "fomento", "caminos-rurales",
        ("caminos rurales", "obras", "conservacion"),
        "¿Cómo solicito el arreglo de un camino rural de titularidad municipal?",
        "El ayuntamiento presenta la solicitud indicando el camino, el tramo y el estado, "
        "con fotografías y un plano de situación. El Área de Fomento valora la actuación "
        "y la incluye en la programación de conservación de caminos rurales.",
    ),
    DemoFaq(
        "caminos-plazo", "fomento", "caminos-rurales",
        ("caminos rurales", "plazos", "prioridad"),
        "¿Cuánto tarda la Diputación en arreglar un camino rural?",
        "Depende de la programación anual y de la urgencia: los daños que afectan a la "
        "seguridad se priorizan. Puede seguir el estado de su solicitud como expediente "
        "desde la plataforma.",
    ),
    DemoFaq(
        "redaccion-proyecto", "fomento", "redaccion-proyectos",
        ("proyectos", "obras", "memoria valorada", "arquitectura"),
        "¿Puede la Diputación redactar el proyecto de una obra municipal?",
        "Sí, los municipios pequeños pueden pedir apoyo técnico para redactar proyectos y "
        "memorias valoradas. Indique la obra, su ubicación y el presupuesto estimado; el "
        "área le comunicará la disponibilidad y el plazo.",
    ),
    DemoFaq(
        "licencia-obra", "fomento", "redaccion-proyectos",
        ("urbanismo", "licencias", "informe tecnico"),
        "¿Ofrece la Diputación informes técnicos para licencias de obra?",
        "Los ayuntamientos sin personal técnico propio pueden solicitar al Área de Fomento "
        "informes técnicos sobre licencias urbanísticas. Adjunte el proyecto o la "
        "documentación presentada por la persona interesada.",
    ),
    # --- Economía y Hacienda ----------------------------------------------------------------
    DemoFaq(
        "planes-provinciales", "hacienda", "planes-provinciales",
        ("planes provinciales", "obras", "inversiones"),
        "¿Cómo participa mi municipio en los planes provinciales de obras y servicios?",
        "Cada año se aprueba el plan con la asignación de cada municipio. El ayuntamiento "
        "propone las actuaciones mediante acuerdo del pleno o resolución de la alcaldía y "
        "las comunica en el plazo fijado en las bases.",
    ),
    DemoFaq(
        "planes-cambio", "hacienda", "planes-provinciales",
        ("planes provinciales", "modificacion", "cambio de obra"),
        "¿Puedo cambiar una obra ya incluida en el plan provincial?",
        "Sí, mediante solicitud motivada de modificación aprobada por el órgano municipal "
        "competente, siempre que la obra no se haya adjudicado. El servicio de planes "
        "provinciales le indicará la documentación.",
    ),
    DemoFaq(
        "recaudacion", "hacienda", None,
        ("recaudacion", "tributos", "anticipos"),
        "¿Cuándo recibe el ayuntamiento los anticipos de la recaudación?",
        "La Diputación transfiere anticipos a cuenta de la recaudación de los tributos "
        "delegados según el calendario aprobado cada año; la liquidación definitiva se "
        "realiza al cierre del ejercicio.",
    ),
    # --- Asistencia a Municipios -------------------------------------------------------------
    DemoFaq(
        "asesoramiento-juridico", "asistencia-municipios", "asesoramiento-juridico",
        ("asesoramiento juridico", "informes", "secretaria"),
        "¿Cómo pido un informe jurídico para mi ayuntamiento?",
        "La secretaría o la alcaldía abre una consulta al servicio de asesoramiento jurídico "
        "exponiendo la cuestión y adjuntando los antecedentes. Los informes son orientativos "
        "y se emiten en el plazo previsto para el servicio.",
    ),
    DemoFaq(
        "secretaria-vacante", "asistencia-municipios", "asesoramiento-juridico",
        ("secretaria", "intervencion", "habilitados nacionales"),
        "La plaza de secretaría está vacante, ¿puede ayudarnos la Diputación?",
        "El servicio de asistencia a municipios presta apoyo temporal de secretaría-"
        "intervención a los municipios que lo solicitan mientras la plaza se cubre. "
        "Solicítelo mediante una consulta indicando desde cuándo está vacante.",
    ),
    DemoFaq(
        "contratacion-pliegos", "asistencia-municipios", "contratacion",
        ("contratacion", "pliegos", "licitacion"),
        "¿Me ayudan a preparar los pliegos de un contrato público?",
        "El servicio de apoyo en contratación pública revisa o ayuda a redactar los pliegos "
        "de cláusulas administrativas y técnicas y orienta sobre el procedimiento adecuado. "
        "Envíe el objeto del contrato y su valor estimado.",
    ),
    DemoFaq(
        "contrato-menor", "asistencia-municipios", "contratacion",
        ("contratacion", "contrato menor", "limites"),
        "¿Cuál es el límite de un contrato menor?",
        "Según la Ley 9/2017 de Contratos del Sector Público, son contratos menores los de "
        "valor estimado inferior a 40.000 euros en obras y a 15.000 euros en servicios y "
        "suministros. Para dudas sobre un caso concreto, consulte al servicio de contratación.",
    ),
    # --- Bienestar Social y Cultura -------------------------------------------------------------
    DemoFaq(
        "servicios-sociales", "bienestar-social", "servicios-sociales",
        ("servicios sociales", "dependencia", "ayuda a domicilio"),
        "¿Cómo se coordina el servicio social de atención básica con el ayuntamiento?",
        "Los servicios sociales comunitarios se prestan en colaboración con los municipios. "
        "Para altas, bajas o cambios de horario de la trabajadora social, abra una consulta "
        "al Área de Bienestar Social.",
    ),
    DemoFaq(
        "programacion-cultural", "cultura-deportes", "programacion-cultural",
        ("cultura", "actividades", "circuitos culturales"),
        "¿Cómo solicito actividades del circuito cultural de la Diputación?",
        "El área publica cada temporada el catálogo de actividades. El ayuntamiento elige las "
        "que le interesan y presenta la solicitud en plazo; la programación se confirma según "
        "disponibilidad.",
    ),
    # --- Formación -----------------------------------------------------------------------------
    DemoFaq(
        "formacion", None, None, ("formacion", "cursos", "sede electronica"),
        "¿Qué formación ofrece la Diputación al personal municipal?",
        "Se organizan sesiones presenciales y en línea sobre la plataforma de la oficina, la "
        "sede electrónica, el catálogo de servicios y la gestión municipal. Las próximas "
        "acciones formativas aparecen en el calendario con su plazo de inscripción.",
    ),
    DemoFaq(
        "formacion-inscripcion", None, None, ("formacion", "inscripcion", "certificado"),
        "¿Cómo me inscribo en un curso y obtengo el certificado de asistencia?",
        "Inscríbase desde el evento del calendario o mediante el enlace de la convocatoria de "
        "formación. Al finalizar, si ha asistido al menos al 80 % de las horas, recibirá el "
        "certificado de asistencia por correo electrónico.",
    ),
]  # fmt: skip


def _demo_id(kind: str, key: str) -> uuid.UUID:
    """Same scheme as `app.seed.demo._demo_id` (not imported: app.seed.demo calls this module)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"oaaa-demo:{kind}:{key}")


async def seed_faq(session: AsyncSession, areas: dict[str, Area]) -> list[str]:
    """Adds the missing demo FAQ entries; returns a line per entry created."""
    created: list[str] = []
    await session.flush()  # the áreas and services the entries point at
    for item in FAQS:
        fid = _demo_id("faq", item.key)
        if await session.get(FaqEntry, fid) is not None:
            continue
        area = areas[item.area_code] if item.area_code else None
        service_id = (
            _demo_id("service", f"{item.area_code}/{item.service_code}")
            if item.area_code and item.service_code
            else None
        )
        session.add(
            FaqEntry(
                id=fid,
                question=item.question,
                question_normalized=normalize_question(item.question),
                answer=f"{item.answer}\n\n{DEMO_NOTE}",
                area_id=area.id if area else None,
                service_id=service_id,
                tags=[normalize_question(t) for t in item.tags],
                is_published=True,
            )
        )
        created.append(f"pregunta frecuente {item.key}")
    await session.flush()
    return created
