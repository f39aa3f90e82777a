# syntax=docker/dockerfile:1
#
# One image for both processes (settings come from the environment; outside
# OAAA_ENVIRONMENT=local/test the app refuses to start without OAAA_JWT_SECRET, >= 32 chars):
#   API:    docker run -p 8000:8000 -e OAAA_DATABASE_URL=postgresql+asyncpg://... \
#               -e OAAA_REDIS_URL=redis://... -e OAAA_JWT_SECRET=... oaaa
#   worker: docker run --no-healthcheck -e ... oaaa python -m app worker
#   migrations (once per release): docker run --no-healthcheck -e ... oaaa python -m app migrate
# Links in feeds and e-mails need OAAA_PUBLIC_BASE_URL (the external https address). Behind a
# reverse proxy, set OAAA_FORWARDED_ALLOW_IPS to its address or network so per-address limits see
# the real client; X-Forwarded-For from any other peer is ignored.
# The HEALTHCHECK probes the API's /healthz; disable it for the worker (--no-healthcheck,
# or `healthcheck: {disable: true}` in compose).

############################ builder ############################
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1

RUN pip install 'uv>=0.5,<1'

WORKDIR /app

# Dependencies first, so this layer is cached until uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself (README.md is the package's readme, needed to build it;
# alembic.in[i] copies alembic.ini when present).
COPY README.md alembic.in[i] ./
COPY app ./app
COPY migrations ./migrations
RUN uv sync --frozen --no-dev

############################ runtime ############################
FROM python:3.11-slim AS runtime

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --system --gid 10001 oaaa \
    && useradd --system --uid 10001 --gid oaaa --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin oaaa

WORKDIR /app
# Same paths as in the builder: the venv's scripts and the project's editable install point
# there, and app/cli.py finds alembic.ini and migrations/ next to app/ (/app).
# Owned by root and read-only for the app user.
COPY --from=builder /app /app

USER oaaa:oaaa

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('OAAA_PORT', '8000'), timeout=4).close()"]

CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0"]
