"""The whole contract, fuzzed from outside: Schemathesis against the real server, anonymous and
as every role, with every check but the ones shown to be false positives (README, "Fuzzing").

The server runs in its own process on a database of its own, migrated and loaded with the demo
data (so identifiers in lists and links lead to real rows). The run is bounded by
`OAAA_FUZZ_SECONDS` per caller (default 12 s: about two minutes in all, with the set-up) and
seeded, so the suite repeats itself; `OAAA_FUZZ_SEED=random` and a larger budget explore
further.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_URL, RUN_ID, _with_database, create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
FUZZ_DB = f"oaaa_fuzz_{RUN_ID}"
SECONDS = os.environ.get("OAAA_FUZZ_SECONDS", "12")
SEED = os.environ.get("OAAA_FUZZ_SEED", "20261129")

# Demo accounts (app/seed/demo.py), one per role, and the demo integration client.
PEOPLE = {
    "municipal_user": ("alcaldia.almendralejo@oaaa.demo", "Demo-Almendralejo-2026!"),
    "area_staff": ("fomento@oaaa.demo", "Demo-Fomento-2026!"),
    "oaaa_staff": ("gestora@oaaa.demo", "Demo-Gestora-2026!"),
    "admin": ("admin@oaaa.demo", "Demo-Admin-2026!"),
}
INTEGRATION = ("demo-fomento", "demo-fomento-secret-2026")
# Callers in this order: the admin last, since its writes (deactivating an account, say) can
# only take coverage away from those after it, never add failures.
CALLERS = ["anonymous", "municipal_user", "area_staff", "integration", "oaaa_staff", "admin"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, dict[str, str]]]:
    database_url = _with_database(ADMIN_URL, FUZZ_DB)
    env = os.environ | {
        "OAAA_DATABASE_URL": database_url,
        "OAAA_REDIS_PREFIX": f"oaaa-fuzz-{RUN_ID}:",
        "OAAA_LOG_LEVEL": "WARNING",
        # Many requests from one address: the per-address limits would answer 429 to most.
        "OAAA_PUBLIC_TRACKING_MAX_PER_IP": "1000000",
        "OAAA_LOGIN_MAX_FAILURES_PER_IP": "1000000",
    }
    create_database(FUZZ_DB)
    port = _free_port()
    proc = None
    try:
        for command in ("migrate", "seed"):
            subprocess.run(
                [sys.executable, "-m", "app", command],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                timeout=300,
            )
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start in 90 s"
            time.sleep(0.5)
        yield base, env
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        drop_database(FUZZ_DB)


def _token(base: str, caller: str) -> str | None:
    if caller == "anonymous":
        return None
    if caller == "integration":
        client_id, secret = INTEGRATION
        form = {"grant_type": "client_credentials", "client_id": client_id}
        form["client_secret"] = secret
    else:
        email, password = PEOPLE[caller]
        form = {"grant_type": "password", "username": email, "password": password}
    response = httpx.post(f"{base}/api/v1/auth/token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _fuzz(base: str, env: dict[str, str], token: str | None) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{base}/api/v1/openapi.json",
        "--checks",
        "all",
        # Refuted in README ("Fuzzing"): requests valid by the schema that the server must refuse.
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-time",
        SECONDS,
        "--workers",
        "1",
    ]
    if SEED != "random":
        command += ["--seed", SEED]
    if token is not None:
        # Logging out revokes the very token the run uses.
        command += ["-H", f"Authorization: Bearer {token}", "--exclude-path", "/api/v1/auth/logout"]
    return subprocess.run(
        command,
        env=env | {"NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=float(SECONDS) * 4 + 120,
        check=False,
    )


@pytest.mark.committed
def test_the_contract_holds_under_fuzzing_for_every_caller(server):
    base, env = server
    tokens = {caller: _token(base, caller) for caller in CALLERS}
    paths = httpx.get(f"{base}/api/v1/openapi.json", timeout=30).json()["paths"]
    methods = {"get", "put", "post", "patch", "delete"}
    # Every operation is exercised (the authenticated runs leave out the log-out).
    operations = sum(len(methods & set(item)) for item in paths.values()) - 1
    reports = []
    for caller in CALLERS:
        result = _fuzz(base, env, tokens[caller])
        tested = re.search(r"Tested: (\d+)", result.stdout)
        # A loaded machine may spend the budget before the last operations; most must be reached.
        if result.returncode != 0 or tested is None or int(tested.group(1)) < operations // 2:
            reports.append(f"===== as {caller} (exit {result.returncode})\n{result.stdout}")
    assert not reports, "\n".join(reports)[-20000:]
