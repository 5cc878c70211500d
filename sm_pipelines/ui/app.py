"""The view's FastAPI app: the JSON API (routes/), the page and its assets (static/, vendor
libraries included: nothing is loaded from outside 127.0.0.1).

The server binds 127.0.0.1 only, and it starts runs and approvals, so it also refuses a request
whose Host is not a loopback name (a DNS-rebinding page) and a state-changing request whose
Origin is another site's (a form posted from elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from sm_pipelines.local.state import LocalState
from sm_pipelines.ui.actions import Actions
from sm_pipelines.ui.routes import executions, models, monitoring, pipelines
from sm_pipelines.ui.source import NotFound, ViewSource

STATIC = Path(__file__).parent / "static"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def _loopback(authority: str) -> bool:
    host = urlsplit(f"//{authority}").hostname or ""
    return host in LOOPBACK_NAMES


def create_app(definitions_dir: Path, state: LocalState, env: str = "local") -> FastAPI:
    source = ViewSource.open(definitions_dir, state, env)
    app = FastAPI(title="sm-pipelines", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.source = source
    app.state.actions = Actions(source)

    @app.middleware("http")
    async def loopback_only(request: Request, call_next: Any) -> Any:
        if not _loopback(request.headers.get("host", "")):
            return JSONResponse({"error": "this view answers 127.0.0.1 only"}, status_code=400)
        origin = request.headers.get("origin")
        if (
            request.method not in ("GET", "HEAD")
            and origin
            and not _loopback(urlsplit(origin).netloc)
        ):
            return JSONResponse({"error": f"requests from {origin} are refused"}, status_code=403)
        return await call_next(request)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=404)

    for module in (pipelines, executions, models, monitoring):
        app.include_router(module.router)

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return {
            "state": str(source.state.root),
            "definitions": str(source.definitions_dir),
            "env": source.env,
            "definitions_problem": source.definitions_problem,
        }

    @app.get("/api/{rest:path}")
    def unknown(rest: str) -> JSONResponse:
        return JSONResponse({"error": f"no API endpoint /api/{rest}"}, status_code=404)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
