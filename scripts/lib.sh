# shellcheck shell=bash
# Shared helpers for scripts/run and scripts/test. Source it, don't execute it:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Functions:
#   oaaa_install_deps            bootstrap uv into .tools/ and `uv sync --frozen` into .venv/
#   oaaa_provide_postgres        export OAAA_DATABASE_URL (existing server or a private one)
#   oaaa_provide_redis           export OAAA_REDIS_URL (existing server or a private one)
#   oaaa_stop_started_services   stop only what the two functions above started
#   oaaa_pg_admin_url            print OAAA_DATABASE_URL with the database replaced by "postgres"
#
# Knobs (environment):
#   OAAA_DATABASE_URL / DATABASE_URL   use this PostgreSQL, start nothing
#   OAAA_REDIS_URL / REDIS_URL         use this Redis, start nothing
#   OAAA_LOCAL_SERVICES=1              ignore the above and any server on the default ports;
#                                      always use private instances under .data/
#   OAAA_LOCAL_PG_PORT (54329)         port of the private PostgreSQL (127.0.0.1 only)
#   OAAA_LOCAL_REDIS_PORT (63799)      port of the private Redis (127.0.0.1 only)
#   OAAA_DATA_DIR (.data)              where private instances keep their data (kept across runs)
#   OAAA_KEEP_SERVICES=1               don't stop the private instances on exit
#   OAAA_VERBOSE=1                     show uv's full output

OAAA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OAAA_ROOT
export UV_PYTHON_DOWNLOADS=never

OAAA_DATA_DIR="${OAAA_DATA_DIR:-$OAAA_ROOT/.data}"
OAAA_LOCAL_PG_PORT="${OAAA_LOCAL_PG_PORT:-54329}"
OAAA_LOCAL_REDIS_PORT="${OAAA_LOCAL_REDIS_PORT:-63799}"
OAAA_PG_DB="oaaa"

# What this shell started (read by oaaa_stop_started_services).
_OAAA_STARTED_PG=0
_OAAA_STARTED_REDIS=0
_OAAA_PG_BIN=""
_OAAA_PG_DATA=""

# Colours only on a terminal (and never with NO_COLOR set). Usage: oaaa_color FD CODE;
# call it outside $(...) for fd 1, e.g. `oaaa_color 1 1; echo bold`.
oaaa_color() {
    if [ -t "$1" ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[%sm' "$2" >&"$1"; fi
}
oaaa_log() { oaaa_color 2 '1;34'; printf '[oaaa]' >&2; oaaa_color 2 0; printf ' %s\n' "$*" >&2; }
oaaa_warn() { oaaa_color 2 '1;33'; printf '[oaaa] warning:' >&2; oaaa_color 2 0; printf ' %s\n' "$*" >&2; }
oaaa_die() {
    oaaa_color 2 '1;31'; printf '[oaaa] error:' >&2; oaaa_color 2 0; printf ' %s\n' "$*" >&2
    exit 1
}

_oaaa_is_root() { [ "$(id -u)" -eq 0 ]; }
_oaaa_force_local() { [ "${OAAA_LOCAL_SERVICES:-0}" = "1" ]; }

# ---------------------------------------------------------------------------
# Python dependencies
# ---------------------------------------------------------------------------

oaaa_install_deps() {
    local uv="$OAAA_ROOT/.tools/bin/uv"
    if [ ! -x "$uv" ]; then
        command -v python3 >/dev/null 2>&1 || oaaa_die "python3 not found (Python >= 3.11 is required)"
        oaaa_log "bootstrapping uv into .tools/"
        python3 -m venv "$OAAA_ROOT/.tools"
        "$OAAA_ROOT/.tools/bin/pip" install --quiet --disable-pip-version-check 'uv>=0.5,<1' \
            || oaaa_die "could not install uv into .tools/ (pip install 'uv>=0.5,<1')"
    fi
    local quiet=(--quiet)
    [ "${OAAA_VERBOSE:-0}" = "1" ] && quiet=()
    oaaa_log "syncing .venv/ from uv.lock"
    (cd "$OAAA_ROOT" && "$uv" sync --frozen "${quiet[@]}") \
        || oaaa_die "uv sync --frozen failed (is uv.lock up to date with pyproject.toml?)"
}

# ---------------------------------------------------------------------------
# Small probes
# ---------------------------------------------------------------------------

# Does something accept TCP connections on host:port?
_oaaa_tcp_open() {
    # shellcheck disable=SC2016
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

_oaaa_pg_ready() { # host port
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$1" -p "$2" -t 3
    else
        _oaaa_tcp_open "$1" "$2"
    fi
}

_oaaa_redis_ping() { # host port
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(timeout 3 redis-cli -h "$1" -p "$2" ping 2>/dev/null)" = "PONG" ]
    else
        # shellcheck disable=SC2016
        timeout 3 bash -c '
            exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "PING\r\n" >&3
            IFS= read -r line <&3 && [[ $line == "+PONG"* ]]' _ "$1" "$2" 2>/dev/null
    fi
}

# Make sure database $5 exists on the server (host port user password-less, trust auth).
_oaaa_pg_ensure_db() { # host port user db
    local host=$1 port=$2 user=$3 db=$4
    if command -v psql >/dev/null 2>&1; then
        local q=(psql -X -w -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$user" -d postgres -tA)
        local exists
        exists="$(PGCONNECT_TIMEOUT=10 "${q[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" || return 1
        if [ "$exists" != "1" ]; then
            oaaa_log "creating database $db on $host:$port"
            PGCONNECT_TIMEOUT=10 "${q[@]}" -c "CREATE DATABASE \"$db\"" || return 1
        fi
    else
        [ -x "$OAAA_ROOT/.venv/bin/python" ] || oaaa_die "neither psql nor .venv/ found: run oaaa_install_deps first"
        "$OAAA_ROOT/.venv/bin/python" - "$host" "$port" "$user" "$db" <<'PY' || return 1
import asyncio
import sys

import asyncpg

host, port, user, db = sys.argv[1:5]


async def main() -> None:
    conn = await asyncpg.connect(host=host, port=int(port), user=user, database="postgres", timeout=10)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db):
            print(f"[oaaa] creating database {db} on {host}:{port}", file=sys.stderr)
            await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()


asyncio.run(main())
PY
    fi
}

_oaaa_apt_install() { # package...
    _oaaa_is_root || oaaa_die "$* not installed and not root: install it (apt-get install $*) or set the URL variables"
    command -v apt-get >/dev/null 2>&1 || oaaa_die "$* not installed and apt-get not available: install it or set the URL variables"
    oaaa_log "installing $* with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
        oaaa_die "apt-get install $* failed"
    fi
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# Run a PostgreSQL server binary as a non-root user (initdb and pg_ctl refuse root).
_oaaa_as_pg() {
    if _oaaa_is_root; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u postgres -- "$@")
        else
            (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
        fi
    else
        "$@"
    fi
}

_oaaa_find_pg_bin() {
    local d best=""
    # Debian keeps the server binaries off PATH; take the highest installed major version.
    best="$(for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; fi
    done | sort -V | tail -n 1)"
    if [ -z "$best" ] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        best="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
    fi
    [ -n "$best" ] && echo "$best"
}

_oaaa_start_private_postgres() {
    local bin port=$OAAA_LOCAL_PG_PORT
    bin="$(_oaaa_find_pg_bin)" || {
        _oaaa_apt_install postgresql
        bin="$(_oaaa_find_pg_bin)" || oaaa_die "PostgreSQL installed but initdb/pg_ctl not found"
    }

    local base=$OAAA_DATA_DIR
    if _oaaa_is_root; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres \
            || oaaa_die "could not create the postgres user"
        mkdir -p "$base"
        if ! runuser -u postgres -- test -x "$base" 2>/dev/null; then
            # The project lives somewhere the postgres user can't reach (e.g. under /root).
            base="/var/lib/oaaa-dev/$(printf '%s' "$OAAA_ROOT" | cksum | cut -d' ' -f1)"
            oaaa_warn "user postgres can't reach $OAAA_DATA_DIR; keeping PostgreSQL data in $base"
            mkdir -p "$base"
        fi
    fi
    local data="$base/postgres" run="$base/postgres-run"
    mkdir -p "$data" "$run"
    if [ $((${#run} + 20)) -gt 100 ]; then
        # Unix socket paths are limited to ~107 bytes.
        run="/tmp/oaaa-pg-$(printf '%s' "$OAAA_ROOT" | cksum | cut -d' ' -f1)"
        mkdir -p "$run"
    fi
    if _oaaa_is_root; then
        chown postgres: "$data" "$run"
    fi
    chmod 700 "$data"

    _OAAA_PG_BIN=$bin
    _OAAA_PG_DATA=$data

    if [ ! -s "$data/PG_VERSION" ]; then
        [ -z "$(ls -A "$data")" ] || oaaa_die "$data is not empty but holds no PostgreSQL cluster; remove it"
        local locale_opt=(--no-locale)
        if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale_opt=(--locale=C.UTF-8); fi
        oaaa_log "initialising a private PostgreSQL cluster in $data"
        _oaaa_as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 "${locale_opt[@]}" >"$run/initdb.log" 2>&1 \
            || { cat "$run/initdb.log" >&2; oaaa_die "initdb failed"; }
    else
        oaaa_log "reusing the private PostgreSQL cluster in $data"
    fi

    if _oaaa_as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        oaaa_log "private PostgreSQL already running (left over or shared); using it, not stopping it"
        _oaaa_pg_ready 127.0.0.1 "$port" || oaaa_die "a PostgreSQL runs on $data but not on 127.0.0.1:$port (OAAA_LOCAL_PG_PORT changed?); stop it with: pg_ctl -D $data stop"
    else
        if _oaaa_tcp_open 127.0.0.1 "$port"; then
            oaaa_die "port $port is taken by another program; set OAAA_LOCAL_PG_PORT to a free port"
        fi
        oaaa_log "starting private PostgreSQL on 127.0.0.1:$port"
        _oaaa_as_pg "$bin/pg_ctl" -D "$data" -l "$run/postgres.log" -w -t 60 -s \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$run" start \
            || { tail -n 30 "$run/postgres.log" >&2 || true; oaaa_die "could not start PostgreSQL"; }
        _OAAA_STARTED_PG=1
    fi

    _oaaa_pg_ensure_db 127.0.0.1 "$port" postgres "$OAAA_PG_DB" \
        || oaaa_die "could not create database $OAAA_PG_DB on the private PostgreSQL"
    export OAAA_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:$port/$OAAA_PG_DB"
}

oaaa_provide_postgres() {
    if ! _oaaa_force_local; then
        if [ -n "${OAAA_DATABASE_URL:-}" ]; then
            oaaa_log "PostgreSQL: using OAAA_DATABASE_URL"
            return 0
        fi
        if [ -n "${DATABASE_URL:-}" ]; then
            local url=$DATABASE_URL
            case "$url" in
                postgres://*) url="postgresql+asyncpg://${url#postgres://}" ;;
                postgresql://*) url="postgresql+asyncpg://${url#postgresql://}" ;;
            esac
            export OAAA_DATABASE_URL="$url"
            oaaa_log "PostgreSQL: using DATABASE_URL"
            return 0
        fi
        if _oaaa_pg_ready 127.0.0.1 5432; then
            if _oaaa_pg_ensure_db 127.0.0.1 5432 postgres "$OAAA_PG_DB"; then
                export OAAA_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$OAAA_PG_DB"
                oaaa_log "PostgreSQL: using the server at 127.0.0.1:5432"
                return 0
            fi
            oaaa_warn "a PostgreSQL answers at 127.0.0.1:5432 but user postgres can't use it without a password; starting a private one"
        fi
    fi
    _oaaa_start_private_postgres
}

# OAAA_DATABASE_URL with its database replaced by "postgres" (for an admin connection).
oaaa_pg_admin_url() {
    local url=${OAAA_DATABASE_URL:?OAAA_DATABASE_URL is not set} query="" scheme rest
    case "$url" in *\?*) query="?${url#*\?}" url="${url%%\?*}" ;; esac
    scheme="${url%%://*}" rest="${url#*://}"
    rest="${rest%%/*}"
    printf '%s://%s/postgres%s\n' "$scheme" "$rest" "$query"
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

_oaaa_start_private_redis() {
    local port=$OAAA_LOCAL_REDIS_PORT dir="$OAAA_DATA_DIR/redis"
    command -v redis-server >/dev/null 2>&1 || _oaaa_apt_install redis-server
    command -v redis-server >/dev/null 2>&1 || oaaa_die "redis-server not found after installing it"
    mkdir -p "$dir"

    if _oaaa_redis_ping 127.0.0.1 "$port"; then
        oaaa_log "a Redis already answers on 127.0.0.1:$port (left over or shared); using it, not stopping it"
    else
        if _oaaa_tcp_open 127.0.0.1 "$port"; then
            oaaa_die "port $port is taken by another program; set OAAA_LOCAL_REDIS_PORT to a free port"
        fi
        oaaa_log "starting private Redis on 127.0.0.1:$port (data in $dir)"
        redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes \
            --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --appendonly yes >/dev/null \
            || oaaa_die "could not start redis-server (see $dir/redis.log)"
        _OAAA_STARTED_REDIS=1
        local i
        for i in $(seq 1 50); do
            _oaaa_redis_ping 127.0.0.1 "$port" && break
            [ "$i" -eq 50 ] && { tail -n 20 "$dir/redis.log" >&2 || true; oaaa_die "Redis did not answer on 127.0.0.1:$port"; }
            sleep 0.2
        done
    fi
    export OAAA_REDIS_URL="redis://127.0.0.1:$port/0"
}

oaaa_provide_redis() {
    if ! _oaaa_force_local; then
        if [ -n "${OAAA_REDIS_URL:-}" ]; then
            oaaa_log "Redis: using OAAA_REDIS_URL"
            return 0
        fi
        if [ -n "${REDIS_URL:-}" ]; then
            export OAAA_REDIS_URL="$REDIS_URL"
            oaaa_log "Redis: using REDIS_URL"
            return 0
        fi
        if _oaaa_redis_ping 127.0.0.1 6379; then
            export OAAA_REDIS_URL="redis://127.0.0.1:6379/0"
            oaaa_log "Redis: using the server at 127.0.0.1:6379"
            return 0
        fi
    fi
    _oaaa_start_private_redis
}

# ---------------------------------------------------------------------------
# Shutdown
# ---------------------------------------------------------------------------

oaaa_stop_started_services() {
    if [ "${OAAA_KEEP_SERVICES:-0}" = "1" ]; then
        if [ "$_OAAA_STARTED_PG" = "1" ] || [ "$_OAAA_STARTED_REDIS" = "1" ]; then
            oaaa_log "OAAA_KEEP_SERVICES=1: leaving the private services running"
        fi
        return 0
    fi
    if [ "$_OAAA_STARTED_PG" = "1" ]; then
        _OAAA_STARTED_PG=0
        oaaa_log "stopping private PostgreSQL"
        _oaaa_as_pg "$_OAAA_PG_BIN/pg_ctl" -D "$_OAAA_PG_DATA" -m fast -w -t 60 -s stop \
            || oaaa_warn "could not stop PostgreSQL in $_OAAA_PG_DATA"
    fi
    if [ "$_OAAA_STARTED_REDIS" = "1" ]; then
        _OAAA_STARTED_REDIS=0
        oaaa_log "stopping private Redis"
        local port=$OAAA_LOCAL_REDIS_PORT pidfile="$OAAA_DATA_DIR/redis/redis.pid" pid=""
        [ -s "$pidfile" ] && pid="$(cat "$pidfile")"
        if command -v redis-cli >/dev/null 2>&1; then
            redis-cli -h 127.0.0.1 -p "$port" shutdown >/dev/null 2>&1 || true
        else
            # shellcheck disable=SC2016
            timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "SHUTDOWN\r\n" >&3 && cat <&3 >/dev/null' \
                _ 127.0.0.1 "$port" 2>/dev/null || true
        fi
        if [ -n "$pid" ]; then
            local i
            for i in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                [ "$i" -eq 50 ] && { oaaa_warn "Redis (pid $pid) did not stop; killing it"; kill "$pid" 2>/dev/null || true; }
                sleep 0.2
            done
        fi
    fi
}

# ---------------------------------------------------------------------------
# Web application (frontend/): checks and an end-to-end stack
# ---------------------------------------------------------------------------
#   oaaa_chromium                 make sure Debian's Chromium is at /usr/bin/chromium
#   oaaa_frontend_install         npm ci in frontend/
#   oaaa_e2e_start DIST           a fresh migrated + seeded database, the worker and the API
#                                 serving DIST on a free port; exports OAAA_E2E_BASE_URL
#   oaaa_e2e_stop                 stop them, drop that database and its Redis keys
#   oaaa_frontend_e2e [ARGS]      build-served e2e: start, `npx playwright test ARGS`, stop

_OAAA_E2E_PIDS=()
_OAAA_E2E_STOP_FAILED=0
_OAAA_E2E_DB=""
_OAAA_E2E_PREFIX=""
_OAAA_E2E_ENV=()

oaaa_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    oaaa_log "installing Debian's chromium (Playwright's browser download is not used)"
    _oaaa_apt_install chromium || oaaa_die "could not install chromium with apt"
}

oaaa_frontend_install() {
    command -v npm >/dev/null 2>&1 || oaaa_die "npm is required for frontend/"
    (cd "$OAAA_ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error)
}

_oaaa_free_port() {
    "$OAAA_ROOT/.venv/bin/python" -c \
        'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_oaaa_pg_admin_sql() { # sql
    "$OAAA_ROOT/.venv/bin/python" - "$(oaaa_pg_admin_url)" "$1" <<'PY'
import asyncio, sys
import asyncpg
url = sys.argv[1].replace("postgresql+asyncpg://", "postgresql://", 1)
async def main() -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sys.argv[2])
    finally:
        await conn.close()
asyncio.run(main())
PY
}

oaaa_e2e_start() { # dist
    local dist=$1 py="$OAAA_ROOT/.venv/bin/python" port url i
    _OAAA_E2E_DB="oaaa_e2e_$(date +%s)_$$"
    _OAAA_E2E_PREFIX="oaaa-e2e-$$:"
    port=$(_oaaa_free_port)
    url="$(oaaa_pg_admin_url)"
    local query=""
    case "$url" in *\?*) query="?${url#*\?}" url="${url%%\?*}" ;; esac
    url="${url%/postgres}/$_OAAA_E2E_DB$query"
    _oaaa_pg_admin_sql "CREATE DATABASE $_OAAA_E2E_DB" || return 1
    _OAAA_E2E_ENV=(
        OAAA_DATABASE_URL="$url" OAAA_REDIS_URL="$OAAA_REDIS_URL" OAAA_REDIS_PREFIX="$_OAAA_E2E_PREFIX"
        OAAA_ENVIRONMENT=local OAAA_FRONTEND_DIST="$dist" OAAA_PORT="$port" OAAA_HOST=127.0.0.1
        OAAA_PUBLIC_BASE_URL="http://127.0.0.1:$port" OAAA_LOG_LEVEL=WARNING OAAA_SLA_SCAN_SECONDS=5
        OAAA_LOGIN_MAX_FAILURES_PER_IP=1000 OAAA_LOGIN_MAX_FAILURES_PER_ACCOUNT=1000
        OAAA_ACCESS_TOKEN_MINUTES=1
    )
    oaaa_log "e2e: migrating and seeding $_OAAA_E2E_DB"
    env "${_OAAA_E2E_ENV[@]}" "$py" -m app migrate >/dev/null || return 1
    env "${_OAAA_E2E_ENV[@]}" "$py" -m app seed >/dev/null || return 1
    env "${_OAAA_E2E_ENV[@]}" "$py" -m app worker >"$OAAA_ROOT/frontend/test-results-worker.log" 2>&1 &
    _OAAA_E2E_PIDS+=("$!")
    env "${_OAAA_E2E_ENV[@]}" "$py" -m app serve --port "$port" >"$OAAA_ROOT/frontend/test-results-api.log" 2>&1 &
    _OAAA_E2E_PIDS+=("$!")
    export OAAA_E2E_BASE_URL="http://127.0.0.1:$port"
    for i in $(seq 1 100); do
        if "$py" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "$OAAA_E2E_BASE_URL/readyz" >/dev/null 2>&1; then
            oaaa_log "e2e: API serving the web application at $OAAA_E2E_BASE_URL"
            return 0
        fi
        sleep 0.2
    done
    oaaa_warn "e2e: the API did not become ready"
    return 1
}

oaaa_e2e_stop() {
    local pid
    if [ "${#_OAAA_E2E_PIDS[@]}" -gt 0 ]; then
        for pid in "${_OAAA_E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        # A clean stop takes a few seconds; one that does not come within 30 is a bug the
        # test run reports, and the process is killed so that the run still ends.
        for pid in "${_OAAA_E2E_PIDS[@]}"; do
            for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            if kill -0 "$pid" 2>/dev/null; then
                oaaa_warn "e2e: process $pid did not stop within 30 s of SIGTERM; killed"
                kill -KILL "$pid" 2>/dev/null || true
                _OAAA_E2E_STOP_FAILED=1
            fi
            wait "$pid" 2>/dev/null || true
        done
        _OAAA_E2E_PIDS=()
    fi
    if [ -n "$_OAAA_E2E_DB" ]; then
        _oaaa_pg_admin_sql "DROP DATABASE IF EXISTS $_OAAA_E2E_DB WITH (FORCE)" \
            || oaaa_warn "could not drop $_OAAA_E2E_DB"
        "$OAAA_ROOT/.venv/bin/python" - "$OAAA_REDIS_URL" "$_OAAA_E2E_PREFIX" <<'PY' || true
import sys
import redis
r = redis.Redis.from_url(sys.argv[1])
keys = list(r.scan_iter(match=sys.argv[2] + "*", count=500))
if keys:
    r.delete(*keys)
PY
        _OAAA_E2E_DB=""
    fi
}

oaaa_frontend_e2e() { # playwright args...
    local status=0
    oaaa_chromium
    oaaa_e2e_start "$OAAA_ROOT/frontend/dist" || { oaaa_e2e_stop; return 1; }
    (cd "$OAAA_ROOT/frontend" && npx playwright test "$@") || status=$?
    _OAAA_E2E_STOP_FAILED=0
    oaaa_e2e_stop
    # The API and the worker must stop cleanly on SIGTERM, as a deployment stops them.
    if [ "$status" -eq 0 ] && [ "$_OAAA_E2E_STOP_FAILED" -ne 0 ]; then status=1; fi
    return "$status"
}
