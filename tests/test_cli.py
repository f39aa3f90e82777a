"""The command line entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def test_all_commands_are_available() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"serve", "worker", "migrate", "seed", "create-admin", "export-openapi"} <= set(
        sub.choices  # type: ignore[arg-type]
    )


def test_export_openapi_writes_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    assert main(["export-openapi", "--output", str(out)]) == 0
    spec = json.loads(out.read_text())
    assert spec["info"]["title"].startswith("OAAA")
    assert "/api/v1/auth/token" in spec["paths"]


def test_unknown_command_fails() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fly"])
    assert exc.value.code == 2


@pytest.mark.committed
def test_create_admin_creates_once(migrated_database: str) -> None:
    cmd = [sys.executable, "-m", "app", "create-admin", "--email", "root@example.org"]
    env_cmd = {"OAAA_ADMIN_PASSWORD": "Una-clave-de-admin-1"}
    import os

    env = os.environ | env_cmd
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "Administrador creado: root@example.org" in first.stdout
    assert "Una-clave-de-admin-1" not in first.stdout
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "Ya existe" in second.stdout


def test_worker_check_answers_whether_a_worker_is_ready(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import redis

    from app.core.config import get_settings
    from app.worker.runner import health_check_key

    client = redis.Redis.from_url(get_settings().redis_url)
    try:
        assert main(["worker", "--check"]) == 1
        assert "Ningún worker listo" in capsys.readouterr().out
        client.set(health_check_key(), b"j_complete=0", px=5000)
        assert main(["worker", "--check"]) == 0
        assert "Worker listo" in capsys.readouterr().out
    finally:
        client.delete(health_check_key())
        client.close()
