"""Alembic owns the schema: models and migrations agree, and downgrade works."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401
from tests.conftest import (
    ADMIN_URL,
    _plain,
    _with_database,
    create_database,
    drop_database,
    run_migrations,
)


def _diff(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = create_async_engine(url)
        async with engine.connect() as conn:

            def compare(sync_conn: object) -> list[object]:
                ctx = MigrationContext.configure(
                    sync_conn,  # type: ignore[arg-type]
                    opts={"compare_type": True, "target_metadata": SQLModel.metadata},
                )
                return list(compare_metadata(ctx, SQLModel.metadata))

            result = await conn.run_sync(compare)
        await engine.dispose()
        return result

    return asyncio.run(run())


@pytest.mark.committed
def test_models_and_migrations_do_not_differ(migrated_database: str) -> None:
    assert _diff(migrated_database) == []


def test_downgrade_to_base_and_upgrade_again() -> None:
    name = f"oaaa_test_mig_{uuid.uuid4().hex[:8]}"
    url = _with_database(ADMIN_URL, name)
    create_database(name)
    try:
        run_migrations(url)
        run_migrations(url, "base", downgrade=True)

        async def tables() -> set[str]:
            conn = await asyncpg.connect(_plain(url))
            try:
                rows = await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            finally:
                await conn.close()
            return {r["tablename"] for r in rows}

        assert asyncio.run(tables()) == {"alembic_version"}
        run_migrations(url)
        assert "municipality" in asyncio.run(tables())
        assert _diff(url) == []
    finally:
        drop_database(name)


async def test_reference_municipalities_are_loaded(session) -> None:
    row = (
        await session.execute(
            text("SELECT count(*), sum(population) FROM municipality WHERE kind = 'municipality'")
        )
    ).one()
    assert row == (165, 664970)
    badajoz = (
        await session.execute(text("SELECT name FROM municipality WHERE ine_code = '06015'"))
    ).scalar_one()
    assert badajoz == "Badajoz"


async def test_audit_log_is_append_only(session) -> None:
    await session.execute(
        text(
            "INSERT INTO audit_log (actor_type, action, entity_type, changes)"
            " VALUES ('system', 'x.test', 'x', '{}')"
        )
    )
    await session.commit()
    for statement in ("UPDATE audit_log SET action = 'tampered'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement))
        await session.rollback()
    assert (await session.execute(text("SELECT action FROM audit_log"))).scalar_one() == "x.test"
