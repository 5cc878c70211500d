"""The RAG service end to end: a real local Qdrant store, the real embedding model, a stub model
server on loopback; answers, sources, errors, and the local trace log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from components.serving.rag.app import create_app
from tests.serving.conftest import ADA, BOB, chunk_id


def _client(service: Any) -> TestClient:
    return TestClient(create_app(service, close_on_shutdown=False))


def test_answers_from_the_authors_chunks(make_service: Any, tmp_path: Path) -> None:
    service = make_service()
    response = _client(service).post(
        "/rag", json={"query": "How do you replace a model in production?", "author": ADA}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "Replacing a model in production should be unremarkable."
    assert body["sources"][0]["id"] == chunk_id("Blue/green deploys for models")
    assert {s["author"] for s in body["sources"]} == {ADA}
    assert set(body["sources"][0]) == {"id", "type", "author", "title", "score", "snippet"}
    # The repost differs only in whitespace: one of the two, never both.
    ids = [s["id"] for s in body["sources"]]
    assert len({chunk_id("Rollbacks"), chunk_id("Rollbacks (repost)")} & set(ids)) <= 1

    assert service.tracer.flush(5)
    records = [json.loads(line) for line in (tmp_path / "traces.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [body["trace_id"]]
    trace = records[0]
    steps = [s["name"] for s in trace["spans"] if s["parent_span_id"] is None]
    assert steps == ["embed", "retrieve", "rerank", "prompt", "generate"]
    assert trace["metadata"]["context_chunk_ids"] == ids
    assert trace["output"]["answer"] == body["answer"]


def test_author_filter_keeps_other_authors_out(make_service: Any) -> None:
    client = _client(make_service())
    body = client.post("/rag", json={"query": "sourdough fermentation", "author": BOB}).json()
    assert [s["author"] for s in body["sources"]] == [BOB]
    # Author names match as ETL normalises them.
    again = client.post("/rag", json={"query": "sourdough", "author": " bob   BAKER "}).json()
    assert again["sources"][0]["author"] == BOB


@pytest.mark.parametrize(
    ("payload", "status", "says"),
    [
        ({"query": ""}, 422, "query is empty"),
        ({"query": "   \n"}, 422, "query is empty"),
        ({"query": "deploy " * 300}, 422, "tokens; the limit is 254"),
        ({"query": "x" * 5000}, 422, "characters; the limit is 4000"),
        ({}, 422, "query: Field required"),
        ({"query": 42}, 422, "query: Input should be a valid string"),
        ({"query": "hi", "top_k": 0}, 422, "top_k is 0; expected 1 to 10"),
        ({"query": "hi", "author": "Carol Nobody"}, 404, "author 'Carol Nobody' has no documents"),
    ],
)
def test_bad_requests_get_a_clear_error(
    make_service: Any, payload: dict, status: int, says: str
) -> None:
    response = _client(make_service()).post("/rag", json=payload)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert says in detail and "Traceback" not in detail
    if status == 404:
        assert f"(have: {ADA}, {BOB})" in detail


def test_a_down_model_endpoint_is_503_and_traced(
    make_service: Any, stub_model: Any, tmp_path: Path
) -> None:
    stub_model.server.stop()
    service = make_service(runtime_url=stub_model.url)
    response = _client(service).post("/rag", json={"query": "How do rollbacks work?"})
    assert response.status_code == 503
    body = response.json()
    assert "model endpoint llm-twin-test is unreachable at http://127.0.0.1:" in body["detail"]
    assert service.tracer.flush(5)
    trace = json.loads((tmp_path / "traces.jsonl").read_text().splitlines()[-1])
    assert trace["id"] == body["trace_id"]
    assert trace["metadata"]["status"] == 503 and "status:error" in trace["tags"]
    generate = next(s for s in trace["spans"] if s["name"] == "generate")
    assert generate["error_info"]["exception_type"] == "ServiceError"


def test_an_unknown_endpoint_is_503(make_service: Any) -> None:
    service = make_service(SAGEMAKER_ENDPOINT_NAME="no-such-endpoint")
    response = _client(service).post("/rag", json={"query": "rollbacks"})
    assert response.status_code == 503
    assert "model endpoint no-such-endpoint does not exist" in response.json()["detail"]


def test_tracing_off_leaves_no_trace(make_service: Any, tmp_path: Path) -> None:
    service = make_service(OPIK_TRACK_DISABLE="true")
    body = _client(service).post("/rag", json={"query": "rollbacks"}).json()
    assert body["trace_id"] is None and body["answer"]
    assert not (tmp_path / "traces.jsonl").exists()


def test_a_failing_trace_sink_never_fails_the_request(make_service: Any) -> None:
    service = make_service()

    class Broken:
        description = "a broken sink"

        def export(self, batch: list) -> None:
            raise OSError("disk full")

        def flush(self, timeout: float) -> None:
            pass

        def close(self, timeout: float) -> None:
            pass

    service.tracer.sink = Broken()
    response = _client(service).post("/rag", json={"query": "rollbacks"})
    assert response.status_code == 200
    service.tracer.flush(5)
    stats = _client(service).get("/health").json()["tracing"]
    assert stats["failed"] == 1 and stats["last_error"] == "OSError: disk full"


def _chat_server(replies: dict[str, dict]) -> Any:
    from http.server import BaseHTTPRequestHandler

    from tests.serving.conftest import _Server

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            system = body["messages"][0]["content"]
            reply = next(v for k, v in replies.items() if k in system)
            data = json.dumps({"choices": [{"message": {"content": json.dumps(reply)}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return _Server(Handler)


def test_with_an_llm_the_query_names_its_author_and_is_expanded(
    make_service: Any, tmp_path: Path
) -> None:
    chat = _chat_server(
        {"Extract": {"author": BOB}, "Rewrite": {"queries": ["baking bread", "hot oven"]}}
    )
    try:
        service = make_service(LLM_API_BASE=chat.url, LLM_API_KEY="test-key")
        body = _client(service).post("/rag", json={"query": "What does Bob say about bread?"})
    finally:
        chat.stop()
    assert body.status_code == 200
    assert {s["author"] for s in body.json()["sources"]} == {BOB}
    service.tracer.flush(5)
    trace = json.loads((tmp_path / "traces.jsonl").read_text().splitlines()[-1])
    names = [s["name"] for s in trace["spans"] if s["parent_span_id"] is None]
    assert names == ["self_query", "expand", "embed", "retrieve", "rerank", "prompt", "generate"]
    assert trace["metadata"]["author_source"] == "self_query"
    assert trace["metadata"]["expanded_queries"] == ["baking bread", "hot oven"]
    embed = next(s for s in trace["spans"] if s["name"] == "embed")
    assert embed["output"]["vectors"] == 3


def test_a_failing_llm_leaves_the_query_as_it_was(make_service: Any, tmp_path: Path) -> None:
    chat = _chat_server({})
    chat.stop()
    service = make_service(LLM_API_BASE=chat.url, LLM_API_KEY="test-key")
    response = _client(service).post("/rag", json={"query": "rollbacks"})
    assert response.status_code == 200
    service.tracer.flush(5)
    trace = json.loads((tmp_path / "traces.jsonl").read_text().splitlines()[-1])
    expand = next(s for s in trace["spans"] if s["name"] == "expand")
    assert "is unreachable" in expand["metadata"]["error"]
