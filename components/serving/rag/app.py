"""The HTTP face of the service (FastAPI). Every error is JSON with one readable `detail` line;
an unexpected one is logged with its traceback here and answered 500 without it."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from components.serving.rag.service import RagService, ServiceError


class RagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="the question")
    author: str | None = Field(default=None, description="only this author's documents")
    top_k: int | None = Field(default=None, description="chunks given to the model")


class Source(BaseModel):
    id: str
    type: str
    author: str
    title: str
    score: float
    snippet: str


class RagResponse(BaseModel):
    answer: str
    sources: list[Source]
    trace_id: str | None


def _validation_detail(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


def create_app(service: RagService, close_on_shutdown: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if close_on_shutdown:
            # Flushes the traces still queued, so a clean stop loses none.
            service.close()

    app = FastAPI(title="LLM Twin RAG", version="1", lifespan=lifespan)
    app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _validation_detail(exc)})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        traceback.print_exception(exc, file=sys.stderr)
        return JSONResponse(
            status_code=500,
            content={"detail": f"internal error ({type(exc).__name__}); see the service log"},
        )

    @app.post("/rag", response_model=RagResponse)
    def rag(body: RagRequest) -> Any:
        # A plain `def`: the steps block (model, store, endpoint), so FastAPI runs it in its
        # thread pool rather than on the event loop.
        try:
            return service.answer(body.query, body.author, body.top_k)
        except ServiceError as exc:
            content: dict[str, Any] = {"detail": exc.message}
            if exc.trace_id:
                content["trace_id"] = exc.trace_id
            return JSONResponse(status_code=exc.status, content=content)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return service.health()

    return app
