"""Command line: `python -m app <command>` (or `oaaa <command>`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _alembic_config() -> object:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return cfg


def cmd_migrate(args: argparse.Namespace) -> int:
    from alembic import command

    cfg = _alembic_config()
    if args.revision.startswith("-") or args.downgrade:
        command.downgrade(cfg, args.revision)  # type: ignore[arg-type]
    else:
        command.upgrade(cfg, args.revision)  # type: ignore[arg-type]
    return 0


def cmd_seed(_: argparse.Namespace) -> int:
    from app.seed.demo import run_seed

    asyncio.run(run_seed())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app.core import server
    from app.core.config import get_settings

    # The application itself reads X-Forwarded-* from OAAA_FORWARDED_ALLOW_IPS only; the
    # address and port given here also derive the public base URL when it is not set.
    if args.host:
        os.environ["OAAA_HOST"] = args.host
    if args.port:
        os.environ["OAAA_PORT"] = str(args.port)
    get_settings.cache_clear()
    settings = get_settings()
    server.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        reload=args.reload,
        proxy_headers=False,
        log_config=None,
        access_log=False,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from app.core.observability import configure_logging
    from app.worker import runner

    if args.check:
        state = asyncio.run(runner.check_state())
        if state == "ok":
            print("Worker listo")
            return 0
        if state is None:
            print("Redis no responde: no se sabe si hay un worker listo")
        elif state == "stale":
            print("Ningún worker listo: hubo uno, pero ha dejado de renovar su clave de salud")
        else:
            print("Ningún worker listo: no hay ninguno en marcha")
        return 1
    from app.worker.settings import WorkerSettings

    configure_logging()
    runner.run(WorkerSettings)
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from app.core.db import dispose_engine, get_sessionmaker
    from app.services.users import ensure_admin

    password = args.password or os.environ.get("OAAA_ADMIN_PASSWORD")
    generated = False
    if not password:
        if sys.stdin.isatty():
            password = getpass.getpass("Contraseña (mínimo 12 caracteres): ")
        else:
            password = secrets.token_urlsafe(12)
            generated = True

    async def run() -> int:
        async with get_sessionmaker()() as session:
            user, created = await ensure_admin(
                session, email=args.email, full_name=args.name, password=password
            )
            await session.commit()
        await dispose_engine()
        if created:
            print(f"Administrador creado: {user.email}")
            if generated:
                print(f"Contraseña generada: {password}")
        else:
            print(f"Ya existe un usuario con el correo {user.email}; no se ha modificado")
        return 0

    return asyncio.run(run())


def cmd_export_openapi(args: argparse.Namespace) -> int:
    from app.openapi_export import OPENAPI_PATH, export

    path = export(Path(args.output) if args.output else OPENAPI_PATH)
    print(f"Escrito {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oaaa", description="Plataforma OAAA")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="aplicar migraciones (alembic upgrade head)")
    p.add_argument("revision", nargs="?", default="head")
    p.add_argument("--downgrade", action="store_true", help="bajar hasta la revisión indicada")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="cargar datos de demostración (idempotente)")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("serve", help="servir la API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--reload", action="store_true")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="arrancar el worker arq")
    p.add_argument(
        "--check", action="store_true", help="comprobar si hay un worker listo (código 0) o no (1)"
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("create-admin", help="crear una cuenta de administración")
    p.add_argument("--email", required=True)
    p.add_argument("--name", default="Administración de la plataforma")
    p.add_argument("--password", help="si se omite se pide (o se genera sin terminal)")
    p.set_defaults(func=cmd_create_admin)

    p = sub.add_parser("export-openapi", help="escribir openapi.json")
    p.add_argument("--output")
    p.set_defaults(func=cmd_export_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
