"""Demo data on real municipalities: comarcas, ELMs, áreas, catalogue, one account per role.

Idempotent: running it again adds only what is missing. Refused in production.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.config import get_settings
from app.core.db import dispose_engine, get_sessionmaker
from app.core.scoping import Actor
from app.core.security import digest_secret, hash_password
from app.models.area import Area, CatalogueService
from app.models.base import Role
from app.models.integration import IntegrationClient, IntegrationScope
from app.models.municipality import Comarca, Municipality, MunicipalityKind
from app.models.user import User
from app.seed.calendar import seed_calendar
from app.seed.consultations import seed_consultations
from app.seed.expedientes import seed_expedientes
from app.seed.faq import seed_faq
from app.seed.holidays import seed_official_calendar
from app.seed.indicators import seed_indicators

SEED_ACTOR = Actor.system("datos de demostración")

# Demo grouping of a few well-known municipalities; administrators maintain the real one.
COMARCAS: dict[str, list[str]] = {
    "Tierra de Barros": ["06011", "06002", "06149", "06054", "06121"],
    "Vegas Altas": ["06044", "06153", "06060"],
    "La Serena": ["06036", "06023"],
    "Campiña Sur": ["06074", "06014"],
    "Zafra - Río Bodión": ["06158"],
    "Tentudía": ["06085"],
    "Sierra Suroeste": ["06070", "06050"],
    "La Siberia": ["06063", "06127"],
    "Vegas Bajas": ["06088", "06103"],
    "Llanos de Olivenza": ["06095"],
    "Área de Mérida": ["06083"],
    "Área de Badajoz": ["06015"],
}

# Entidades locales menores of the municipality of Badajoz.
ELMS: list[tuple[str, str]] = [
    ("Gévora", "06015"),
    ("Sagrajas", "06015"),
    ("Valdebótoa", "06015"),
    ("Villafranco del Guadiana", "06015"),
]

AREAS: list[dict[str, str]] = [
    {
        "code": "fomento",
        "name": "Área de Fomento",
        "description": "Obras, carreteras provinciales, arquitectura y urbanismo.",
        "email": "fomento@demo.dip-badajoz.es",
    },
    {
        "code": "desarrollo-local",
        "name": "Área de Desarrollo Local",
        "description": "Empleo, emprendimiento, desarrollo rural y fondos europeos.",
        "email": "desarrollolocal@demo.dip-badajoz.es",
    },
    {
        "code": "bienestar-social",
        "name": "Área de Bienestar Social",
        "description": "Servicios sociales comunitarios, dependencia e igualdad.",
        "email": "bienestarsocial@demo.dip-badajoz.es",
    },
    {
        "code": "cultura-deportes",
        "name": "Área de Cultura y Deportes",
        "description": "Programación cultural, bibliotecas e instalaciones deportivas.",
        "email": "cultura@demo.dip-badajoz.es",
    },
    {
        "code": "transformacion-digital",
        "name": "Área de Transformación Digital",
        "description": "Sede electrónica, administración electrónica y sistemas municipales.",
        "email": "digital@demo.dip-badajoz.es",
    },
    {
        "code": "hacienda",
        "name": "Área de Economía y Hacienda",
        "description": "Presupuestos, tesorería, planes provinciales y recaudación.",
        "email": "hacienda@demo.dip-badajoz.es",
    },
    {
        "code": "asistencia-municipios",
        "name": "Área de Asistencia a Municipios",
        "description": "Asesoramiento jurídico, económico y técnico a las entidades locales.",
        "email": "asistencia@demo.dip-badajoz.es",
    },
]

SERVICES: list[tuple[str, str, str, str, list[str]]] = [
    ("fomento", "caminos-rurales", "Arreglo de caminos rurales",
     "Solicitud de actuaciones de conservación en caminos de titularidad municipal.",
     ["web", "email", "phone"]),
    ("fomento", "redaccion-proyectos", "Redacción de proyectos de obra",
     "Apoyo técnico para redactar proyectos y memorias valoradas de obras municipales.",
     ["web", "email", "in_person"]),
    ("desarrollo-local", "subvenciones-empleo", "Subvenciones de empleo local",
     "Información y tramitación de las convocatorias de planes de empleo.",
     ["web", "email", "phone", "video_call"]),
    ("desarrollo-local", "fondos-europeos", "Asesoramiento en fondos europeos",
     "Orientación para concurrir a convocatorias financiadas con fondos europeos.",
     ["web", "email", "video_call"]),
    ("bienestar-social", "servicios-sociales", "Servicios sociales de atención básica",
     "Coordinación de los servicios sociales comunitarios con los municipios.",
     ["web", "phone"]),
    ("cultura-deportes", "programacion-cultural", "Programación cultural provincial",
     "Solicitud de actividades de los circuitos culturales de la Diputación.",
     ["web", "email"]),
    ("transformacion-digital", "sede-electronica", "Soporte de sede electrónica",
     "Incidencias y consultas sobre la sede electrónica y el registro municipal.",
     ["web", "email", "phone", "assistant"]),
    ("transformacion-digital", "certificados-digitales", "Certificados electrónicos",
     "Emisión y renovación de certificados de empleado público y de sello.",
     ["web", "in_person"]),
    ("hacienda", "planes-provinciales", "Planes provinciales de obras y servicios",
     "Gestión de la participación municipal en los planes provinciales.",
     ["web", "email", "phone"]),
    ("asistencia-municipios", "asesoramiento-juridico", "Asesoramiento jurídico",
     "Informes y consultas jurídicas para secretarías e intervenciones municipales.",
     ["web", "email", "phone", "video_call"]),
    ("asistencia-municipios", "contratacion", "Apoyo en contratación pública",
     "Asistencia en la preparación de pliegos y procedimientos de contratación.",
     ["web", "email"]),
]  # fmt: skip


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    full_name: str
    role: Role
    municipality_ine: str | None = None
    area_code: str | None = None


DEMO_ACCOUNTS = [
    DemoAccount("admin@oaaa.demo", "Demo-Admin-2026!", "Administración OAAA", Role.admin),
    DemoAccount("gestora@oaaa.demo", "Demo-Gestora-2026!", "Lucía Gestora (OAAA)", Role.oaaa_staff),
    DemoAccount(
        "fomento@oaaa.demo", "Demo-Fomento-2026!", "Andrés Técnico (Fomento)", Role.area_staff,
        area_code="fomento",
    ),
    DemoAccount(
        "alcaldia.almendralejo@oaaa.demo", "Demo-Almendralejo-2026!",
        "Alcaldía de Almendralejo", Role.municipal_user, municipality_ine="06011",
    ),
    DemoAccount(
        "secretaria.merida@oaaa.demo", "Demo-Merida-2026!",
        "Secretaría del Ayuntamiento de Mérida", Role.municipal_user, municipality_ine="06083",
    ),
]  # fmt: skip

DEMO_CLIENT_ID = "demo-fomento"
DEMO_CLIENT_SECRET = "demo-fomento-secret-2026"  # noqa: S105


def _demo_id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"oaaa-demo:{kind}:{key}")


async def _municipality_by_ine(session: AsyncSession, ine: str) -> Municipality:
    stmt = select(Municipality).where(col(Municipality.ine_code) == ine)
    mun = (await session.execute(stmt)).scalars().one()
    return mun


async def seed(session: AsyncSession) -> list[str]:
    """Adds the demo data that is missing; returns a line per thing created."""
    created: list[str] = []

    for name, codes in COMARCAS.items():
        comarca = await session.get(Comarca, _demo_id("comarca", name))
        if comarca is None:
            comarca = Comarca(id=_demo_id("comarca", name), name=name)
            session.add(comarca)
            await session.flush()
            created.append(f"comarca {name}")
            for ine in codes:
                mun = await _municipality_by_ine(session, ine)
                if mun.comarca_id is None:
                    mun.comarca_id = comarca.id

    for name, parent_ine in ELMS:
        if await session.get(Municipality, _demo_id("elm", name)) is None:
            parent = await _municipality_by_ine(session, parent_ine)
            session.add(
                Municipality(
                    id=_demo_id("elm", name),
                    kind=MunicipalityKind.elm,
                    name=name,
                    parent_id=parent.id,
                    comarca_id=parent.comarca_id,
                )
            )
            created.append(f"ELM {name} ({parent.name})")

    areas: dict[str, Area] = {}
    for spec in AREAS:
        area = await session.get(Area, _demo_id("area", spec["code"]))
        if area is None:
            area = Area(
                id=_demo_id("area", spec["code"]),
                code=spec["code"],
                name=spec["name"],
                description=spec["description"],
                email=spec["email"],
            )
            session.add(area)
            created.append(f"área {spec['name']}")
        areas[spec["code"]] = area
    await session.flush()

    for area_code, code, name, description, channels in SERVICES:
        sid = _demo_id("service", f"{area_code}/{code}")
        if await session.get(CatalogueService, sid) is None:
            session.add(
                CatalogueService(
                    id=sid,
                    area_id=areas[area_code].id,
                    code=code,
                    name=name,
                    description=description,
                    channels=channels,
                    contact_email=areas[area_code].email,
                )
            )
            created.append(f"servicio {name}")

    for account in DEMO_ACCOUNTS:
        uid = _demo_id("user", account.email)
        if await session.get(User, uid) is None:
            home = (
                await _municipality_by_ine(session, account.municipality_ine)
                if account.municipality_ine
                else None
            )
            session.add(
                User(
                    id=uid,
                    email=account.email,
                    full_name=account.full_name,
                    role=account.role,
                    municipality_id=home.id if home else None,
                    area_id=areas[account.area_code].id if account.area_code else None,
                    password_hash=hash_password(account.password),
                )
            )
            created.append(f"usuario {account.email}")

    cid = _demo_id("client", DEMO_CLIENT_ID)
    if await session.get(IntegrationClient, cid) is None:
        session.add(
            IntegrationClient(
                id=cid,
                client_id=DEMO_CLIENT_ID,
                name="Gestor de expedientes de Fomento (demo)",
                area_id=areas["fomento"].id,
                scopes=[s.value for s in IntegrationScope],
                secret_hash=digest_secret(DEMO_CLIENT_SECRET),
            )
        )
        created.append(f"cliente de integración {DEMO_CLIENT_ID}")
    created.extend(await seed_official_calendar(session))
    created.extend(await seed_faq(session, areas))
    created.extend(await seed_expedientes(session, areas))
    await session.flush()  # the accounts exist before consultations are recorded by them
    created.extend(await seed_consultations(session, areas))
    created.extend(await seed_calendar(session, areas))
    await session.flush()
    created.extend(await seed_indicators(session, areas))
    if created:
        await audit.record(session, SEED_ACTOR, "seed.demo", "seed", None, {"created": created})
    return created


async def run_seed() -> None:
    settings = get_settings()
    if settings.environment == "production":
        raise SystemExit("Los datos de demostración no se cargan en producción")
    async with get_sessionmaker()() as session:
        created = await seed(session)
        await session.commit()
    await dispose_engine()
    print(f"Datos de demostración: {len(created)} elementos nuevos")
    print("Cuentas de demostración (usuario / contraseña / perfil):")
    for account in DEMO_ACCOUNTS:
        scope = account.municipality_ine or account.area_code or ""
        print(f"  {account.email:36} {account.password:26} {account.role} {scope}")
    print(f"  integración client_id={DEMO_CLIENT_ID} client_secret={DEMO_CLIENT_SECRET}")
