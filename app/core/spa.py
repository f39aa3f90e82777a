"""Serves the built single-page application (`frontend/dist`) from the API's own origin.

GET and HEAD requests outside the API's own paths get the file they name, or `index.html`
so that client-side routes survive a reload. Hashed build assets are cached for a year;
`index.html` is revalidated on every load so a new release is picked up at once.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.responses import FileResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Paths that belong to the API and must keep its own answers (an unknown one is its 404).
RESERVED_PREFIXES = ("/api/", "/docs", "/metrics", "/openapi.json", "/healthz", "/readyz")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT = "public, max-age=3600"


def _reserved(path: str) -> bool:
    return path == "/api" or any(
        path == p.rstrip("/") or path.startswith(p) for p in RESERVED_PREFIXES
    )


class SpaMiddleware:
    """ASGI middleware answering the SPA's GET/HEAD requests before routing."""

    def __init__(self, app: ASGIApp, dist: Path) -> None:
        self.app = app
        self.dist = dist.resolve()
        self.index = self.dist / "index.html"

    def _file_for(self, path: str) -> Path | None:
        relative = PurePosixPath(path.lstrip("/"))
        if ".." in relative.parts:
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if _reserved(path) or not self.index.is_file():
            await self.app(scope, receive, send)
            return
        found = self._file_for(path) if path != "/" else None
        if found is None:
            last = PurePosixPath(path).name
            if "." in last:  # a missing file (favicon.ico, an old asset): the API's 404
                await self.app(scope, receive, send)
                return
            found = self.index
        if found == self.index:
            cache = REVALIDATE
        elif found.is_relative_to(self.dist / "assets"):
            cache = IMMUTABLE
        else:
            cache = SHORT
        response = FileResponse(found, headers={"Cache-Control": cache})
        await response(scope, receive, send)
