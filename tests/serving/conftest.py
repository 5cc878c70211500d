"""A tiny real corpus in a local Qdrant store, a stub model server and a stub Opik server (the
one of tests/opik_fake.py), all on loopback, and a factory for the RAG service over them."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.opik_fake import FakeOpik

os.environ.setdefault("OPIK_SENTRY_ENABLE", "false")
os.environ.setdefault("OPIK_ANALYTICS_ENABLE", "false")

ADA = "Ada Twin"
BOB = "Bob Baker"
ENDPOINT = "llm-twin-test"
# (type, author, title, content): two near-identical posts test de-duplication.
CORPUS = [
    (
        "articles",
        ADA,
        "Blue/green deploys for models",
        "Replacing a model in production should be unremarkable. Run the new version next to "
        "the old one, shift traffic in steps, and keep the old one ready until alarms stay quiet.",
    ),
    (
        "articles",
        ADA,
        "Chunking is a product decision",
        "Chunk size decides what retrieval can find: small chunks retrieve precisely, large "
        "chunks carry context. Pick the size per document type and measure it.",
    ),
    (
        "posts",
        ADA,
        "Rollbacks",
        "A rollback is only real if you have rehearsed it. Keep the previous model warm.",
    ),
    (
        "posts",
        ADA,
        "Rollbacks (repost)",
        "A rollback is only real if you have  rehearsed it. Keep the previous model warm.",
    ),
    (
        "articles",
        BOB,
        "Sourdough at home",
        "Sourdough bread needs a long cold fermentation and a very hot oven.",
    ),
]

CLEARED = (
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "QDRANT_COLLECTION_PREFIX",
    "LLM_API_BASE",
    "LLM_API_KEY",
    "LLM_API_KEY_SECRET",
    "OPIK_URL_OVERRIDE",
    "OPIK_API_KEY",
    "OPIK_API_KEY_SECRET",
    "OPIK_WORKSPACE",
    "OPIK_PROJECT_NAME",
    "OPIK_TRACK_DISABLE",
    "SAGEMAKER_ENDPOINT_NAME",
    "SAGEMAKER_RUNTIME_URL",
    "SM_PIPELINES_LOCAL_STATE",
    "LLM_TWIN_TRACES_FILE",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder() -> tuple[Any, Any]:
    from components.common import embeddings

    return embeddings.load_model(), embeddings.load_tokenizer()


@pytest.fixture(scope="session")
def generator_tokens() -> Any:
    """The generator's token counter (locally the SmolLM2 tokenizer), loaded once."""
    from components.serving.rag.tokens import generator_counter

    return generator_counter({})


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory: pytest.TempPathFactory, embedder: tuple[Any, Any]) -> Path:
    """A closed local store with the corpus; each service opens it (one at a time)."""
    from qdrant_client import QdrantClient, models

    from components.common import embeddings
    from components.common.domain import Author, stable_id
    from components.common.qdrant import ensure_collection

    model, tokenizer = embedder
    path = tmp_path_factory.mktemp("qdrant")
    client = QdrantClient(path=str(path))
    vectors = embeddings.encode(model, [content for *_, content in CORPUS])
    for doc_type in ("articles", "posts", "repositories"):
        ensure_collection(client, f"embedded_{doc_type}", True)
    for (doc_type, author, title, content), vector in zip(CORPUS, vectors, strict=True):
        payload = {
            "author_id": Author(author).id,
            "author_full_name": author,
            "document_id": stable_id(doc_type, title),
            "link": f"https://example.com/{title}",
            "title": title,
            "platform": "test",
            "type": doc_type,
            "content": content,
            "tokens": len(tokenizer.encode(content, add_special_tokens=False).ids),
        }
        point = models.PointStruct(id=chunk_id(title), vector=vector.tolist(), payload=payload)
        client.upsert(f"embedded_{doc_type}", points=[point], wait=True)
    client.close()
    return path


def chunk_id(title: str) -> str:
    from components.common.domain import stable_id

    return stable_id("chunk", title)


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _first_note(prompt: str) -> str:
    """The stub's answer: the first sentence of the first passage, as a grounded twin would."""
    from components.serving.rag.prompt import HEADER

    if HEADER not in prompt:
        return "I have no notes on that."
    passage = prompt.split(HEADER, 1)[1].strip().split("\n\n")[0]
    text = passage.split(": ", 1)[-1]
    return text.split(". ")[0].strip().rstrip(".") + "."


@dataclass
class StubModel:
    """A model server speaking sagemaker-runtime's format; `reply` may be swapped per test."""

    server: _Server
    requests: list[dict[str, Any]] = field(default_factory=list)
    reply: Callable[[str], str] = _first_note

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def stub_model() -> Iterator[StubModel]:
    stub: StubModel

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append({"path": self.path, "body": body})
            if self.path != f"/endpoints/{ENDPOINT}/invocations":
                self._send(
                    400, {"message": f"Endpoint of {self.path} not found."}, "ValidationError"
                )
                return
            self._send(200, [{"generated_text": stub.reply(body["inputs"])}])

        def _send(self, status: int, payload: Any, error: str | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.end_headers()
            self.wfile.write(data)

    stub = StubModel(_Server(Handler))
    yield stub
    stub.server.stop()


class OpikReceiver(FakeOpik):
    """tests/opik_fake.py's Opik server, read the way these tests read it: the JSON bodies the
    SDK wrote (POST, PUT, PATCH), by path, in the order the paths were first written."""

    @property
    def posts(self) -> dict[str, list[Any]]:
        written: dict[str, list[Any]] = {}
        with self.lock:
            for request in self.requests:
                if request.method in ("POST", "PUT", "PATCH"):
                    body = {} if request.body is None else request.body
                    written.setdefault(request.path, []).append(body)
        return written

    def items(self, path: str, key: str) -> list[dict[str, Any]]:
        return [item for body in self.posts.get(path, []) for item in body.get(key, [])]


@pytest.fixture
def opik_receiver() -> Iterator[OpikReceiver]:
    with OpikReceiver() as receiver:
        yield receiver


@pytest.fixture
def monitor_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local state folder the monitoring job reads traces from and writes events to."""
    state = tmp_path / "state"
    state.mkdir()
    for name in ("OPIK_URL_OVERRIDE", "OPIK_API_KEY", "LLM_API_BASE", "LLM_TWIN_TRACES_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SM_PIPELINES_LOCAL_STATE", str(state))
    monkeypatch.setenv("SM_ML_ROOT", str(tmp_path / "ml"))
    return state


@pytest.fixture
def make_service(
    corpus_path: Path,
    embedder: tuple[Any, Any],
    generator_tokens: Any,
    stub_model: StubModel,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Callable[..., Any]]:
    """Build a RagService over the corpus and the stub model; closes what it built."""
    from qdrant_client import QdrantClient

    from components.common import embeddings
    from components.common.settings import QdrantSettings, llm_settings
    from components.serving.rag.config import rag_settings
    from components.serving.rag.generator import EndpointGenerator
    from components.serving.rag.retrieval import Retriever
    from components.serving.rag.service import RagService
    from components.serving.rag.tracing import tracer_from_env

    model, tokenizer = embedder
    built: list[Any] = []

    def embedding_tokens(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def build(runtime_url: str | None = None, **env: str) -> Any:
        monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", ENDPOINT)
        monkeypatch.setenv("SAGEMAKER_RUNTIME_URL", runtime_url or stub_model.url)
        monkeypatch.setenv("LLM_TWIN_TRACES_FILE", str(tmp_path / "traces.jsonl"))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = rag_settings()
        store = QdrantSettings(url=None, path=str(corpus_path), api_key=None, prefix="")
        service = RagService(
            settings,
            Retriever(QdrantClient(path=str(corpus_path)), store),
            lambda texts: embeddings.encode(model, texts),
            generator_tokens.count,
            EndpointGenerator(settings.endpoint_name, settings.runtime_url, None, 5.0),
            tracer_from_env(),
            llm_settings(),
            count_query_tokens=embedding_tokens,
            token_counter=f"{generator_tokens.name} tokenizer",
        )
        built.append(service)
        return service

    yield build
    for service in built:
        service.close()
