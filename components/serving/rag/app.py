"""The HTTP face of the service (FastAPI). Every error is JSON with one readable `detail` line;
an unexpected one is logged with its traceback here and answered 500 without it.

The request body is read and parsed here, in one place, so that every way a body can be wrong
is a 4xx naming what is wrong, never a 500 from deep inside a step: larger than MAX_BODY_BYTES
(413, read with a bound, so a huge body is never held in memory), no content type or one that
is not JSON (415); empty, not UTF-8, not JSON, nested too deeply, not an object, a field of the
wrong type, or a key or string anywhere holding a lone surrogate such as "\ud800" (422, naming
the field).
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import AsyncIterator
from email.message import Message
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from components.serving.rag.feedback import FeedbackRequest
from components.serving.rag.service import RagService, ServiceError, unicode_problem

# Room for the longest query the service takes (4000 characters) even when every character is
# written as a JSON \uXXXX escape pair, plus the other fields.
MAX_BODY_BYTES = 64 * 1024
MAX_FIELD_NAME_CHARS = 40
EXAMPLE = '{"query": "..."}'


def _unicode_text(value: str) -> str:
    problem = unicode_problem(value)
    if problem:
        raise PydanticCustomError("unicode", problem)
    return value


def _not_boolean(value: Any) -> Any:
    # Lax integers take true/false as 1/0; a boolean top_k is a client's mistake, not a count.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return value


Text = Annotated[str, AfterValidator(_unicode_text)]
Count = Annotated[int, BeforeValidator(_not_boolean)]


class RagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Text = Field(description="the question")
    author: Text | None = Field(default=None, description="only this author's documents")
    top_k: Count | None = Field(default=None, description="chunks given to the model")
    session_id: Text | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the conversation this question belongs to (Opik's thread_id)",
    )


class Source(BaseModel):
    id: str
    type: str
    author: str
    title: str
    score: float
    snippet: str


class GuardrailVerdict(BaseModel):
    name: str = Field(description="stage.check, e.g. input.pii")
    verdict: str = Field(description="passed, redacted or flagged (a block is a 422)")
    reason: str


class PromptUsed(BaseModel):
    name: str = Field(description="the prompt in the prompt library, e.g. llm-twin-rag-answer")
    version: str | None = Field(description="its version (v1, ...); null if unregistered")
    commit: str


class RagResponse(BaseModel):
    answer: str
    sources: list[Source]
    trace_id: str | None
    prompt: PromptUsed | None = None
    guardrails: list[GuardrailVerdict] = Field(default_factory=list)


class BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def one_line(text: str) -> str:
    """`text` as one line of valid UTF-8, whatever a client put into it (a JSON response with a
    lone surrogate in it could not even be encoded)."""
    return " ".join(text.encode("utf-8", "backslashreplace").decode("utf-8").split())


def _field(part: Any) -> str:
    name = one_line(str(part))
    return name if len(name) <= MAX_FIELD_NAME_CHARS else name[: MAX_FIELD_NAME_CHARS - 1] + "…"


def _problems(errors: list[Any]) -> str:
    problems = []
    for error in errors:
        where = ".".join(_field(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


def _validation_detail(exc: RequestValidationError) -> str:
    return _problems(list(exc.errors()))


def _first_unicode_problem(data: Any) -> str:
    """`field: why` for the first key or string anywhere in `data` that holds a lone surrogate,
    or "" (walked without recursion; the parser has already bounded the depth)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            problem = unicode_problem(node)
            if problem:
                return f"{where or 'body'}: {problem}"
        elif isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                path = f"{where}.{_field(key)}" if where else _field(key)
                problem = unicode_problem(key)
                if problem:
                    return f"{path}: {problem}"
                stack.append((value, path))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in reversed(list(enumerate(node))))
    return ""


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused (413) past `limit` bytes before or while it is read."""
    too_large = f"body is larger than {limit} bytes; send a shorter query"
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise BadRequest(413, too_large)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_request(raw: bytes, content_type: str | None, model: type[BaseModel] = RagRequest) -> Any:
    """The request in `raw`, or BadRequest with the status and one line saying what is wrong."""
    # Strict, as FastAPI is by default: a browser can send text/plain across origins without
    # asking first, so accepting any type would open the service to cross-site requests.
    if not content_type:
        raise BadRequest(415, "body: expected application/json, got no Content-Type")
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        shown = one_line(message.get_content_type())
        raise BadRequest(415, f"body: expected application/json, got {shown}")
    if not raw.strip():
        raise BadRequest(422, f"body: empty; send a JSON object such as {EXAMPLE}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(422, f"body: not UTF-8 ({exc.reason} at byte {exc.start})") from None

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    try:
        data = json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as exc:
        detail = f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        raise BadRequest(422, detail) from None
    except RecursionError:
        raise BadRequest(422, "body: not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # NaN, or an integer of more than 4300 digits
        reason = one_line(str(exc).split(";")[0])
        raise BadRequest(422, f"body: not valid JSON ({reason})") from None
    if not isinstance(data, dict):
        raise BadRequest(
            422, f"body: expected a JSON object such as {EXAMPLE}, got {_json_type(data)}"
        )
    problem = _first_unicode_problem(data)
    if problem:
        raise BadRequest(422, problem)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(422, _problems(list(exc.errors()))) from None


def _error(
    status: int, detail: str, trace_id: str | None = None, guardrail: str | None = None
) -> JSONResponse:
    """{"detail", "trace_id"?, "guardrail"?}: a blocked request names the guardrail that
    blocked it ("input.injection") beside the line saying why."""
    content: dict[str, Any] = {"detail": one_line(detail)}
    if trace_id:
        content["trace_id"] = trace_id
    if guardrail:
        content["guardrail"] = guardrail
    return JSONResponse(status_code=status, content=content)


_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": RagRequest.model_json_schema()}},
    }
}


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
        return _error(422, _validation_detail(exc))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        traceback.print_exception(exc, file=sys.stderr)
        return _error(500, f"internal error ({type(exc).__name__}); see the service log")

    @app.post("/rag", response_model=RagResponse, openapi_extra=_REQUEST_BODY)
    async def rag(request: Request) -> Any:
        try:
            raw = await read_body(request)
            body = parse_request(raw, request.headers.get("content-type"))
        except BadRequest as exc:
            return _error(exc.status, exc.detail)
        try:
            # The steps block (model, store, endpoint): run them in the thread pool, not on the
            # event loop.
            return await run_in_threadpool(
                service.answer, body.query, body.author, body.top_k, body.session_id
            )
        except ServiceError as exc:
            return _error(exc.status, exc.message, exc.trace_id, exc.guardrail)

    @app.post("/feedback")
    async def feedback(request: Request) -> Any:
        """A person's rating of an answer: {trace_id, score (0..1, "up"/"down"), comment?,
        better_answer?}; queued for Opik (or the local trace log), never written here."""
        try:
            raw = await read_body(request)
            body = parse_request(raw, request.headers.get("content-type"), FeedbackRequest)
        except BadRequest as exc:
            return _error(exc.status, exc.detail)
        try:
            return service.feedback(body.trace_id, body.score, body.comment, body.better_answer)
        except ServiceError as exc:
            return _error(exc.status, exc.message)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return service.health()

    return app
