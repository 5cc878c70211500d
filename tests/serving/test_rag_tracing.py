"""Opik traces of a RAG request, seen twice: through the SDK's local recording and as the gzip
batches a (stub) Opik server receives. Span names, parent links, metadata and token counts."""

from __future__ import annotations

from typing import Any

import opik
import pytest
from fastapi.testclient import TestClient

from components.serving.rag.app import create_app
from tests.serving.conftest import ADA

STEPS = ["embed", "retrieve", "rerank", "prompt", "generate"]
METADATA = {
    "model_id",
    "endpoint",
    "embedding_model",
    "retrieved_chunk_ids",
    "context_chunk_ids",
    "query_tokens",
    "context_tokens",
    "prompt_tokens",
    "answer_tokens",
    "latency_ms",
    "generation",
    "status",
}
QUESTION = "How do you replace a model in production?"


# The receiver comes first so that it is torn down last, after the client has ended.
@pytest.fixture
def traced(opik_receiver: Any, make_service: Any, generator_tokens: Any) -> dict[str, Any]:
    """One request through a service that sends to the stub Opik server, recorded locally too."""
    service = make_service(OPIK_URL_OVERRIDE=opik_receiver.api_url, OPIK_PROJECT_NAME="twin-test")
    client = service.tracer.sink.client
    with opik.record_traces_locally(client=client) as storage:
        response = TestClient(create_app(service, close_on_shutdown=False)).post(
            "/rag", json={"query": QUESTION, "author": ADA}
        )
        assert service.tracer.flush(10)
        trees = storage.trace_trees
    return {
        "body": response.json(),
        "trees": trees,
        "receiver": opik_receiver,
        "count": generator_tokens.count,
        "stats": service.tracer.stats(),
    }


def test_local_recording_holds_one_trace_with_a_span_per_step(traced: dict[str, Any]) -> None:
    body, trees = traced["body"], traced["trees"]
    assert [tree.id for tree in trees] == [body["trace_id"]]
    trace = trees[0]
    assert trace.name == "rag" and trace.project_name == "twin-test"
    assert {"llm-twin", "rag", "env:local"} <= set(trace.tags)
    assert [span.name for span in trace.spans] == STEPS
    retrieve = trace.spans[1]
    # One child span per collection searched, under the retrieve span.
    assert sorted(child.name for child in retrieve.spans) == [
        "search embedded_articles",
        "search embedded_posts",
        "search embedded_repositories",
    ]
    generate = trace.spans[-1]
    assert generate.type == "llm" and generate.model == "llm-twin-test"
    assert generate.usage["completion_tokens"] == traced["count"](body["answer"])


def test_trace_metadata_has_ids_token_counts_and_latencies(traced: dict[str, Any]) -> None:
    body, trace = traced["body"], traced["trees"][0]
    metadata = trace.metadata
    assert set(metadata) >= METADATA
    assert metadata["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert metadata["context_chunk_ids"] == [s["id"] for s in body["sources"]]
    assert set(metadata["context_chunk_ids"]) <= set(metadata["retrieved_chunk_ids"])
    count = traced["count"]
    assert metadata["query_tokens"] == count(QUESTION)
    assert metadata["answer_tokens"] == count(body["answer"]) > 0
    prompt = trace.spans[3].output["prompt"]
    assert metadata["prompt_tokens"] == count(prompt)
    assert 0 < metadata["context_tokens"] < metadata["prompt_tokens"]
    assert set(metadata["latency_ms"]) >= {*STEPS, "total"}
    assert metadata["generation"] == {
        "max_new_tokens": 128,
        "temperature": 0.0,
        "repetition_penalty": 1.2,
        "return_full_text": False,
    }
    assert trace.output["answer"] == body["answer"]


def test_token_counts_are_the_generators_not_the_embedding_models(
    traced: dict[str, Any], embedder: Any
) -> None:
    """Every figure equals what the generator's tokenizer (SmolLM2 here, the model the local
    endpoint serves) returns, computed independently from the GGUF, and differs from what the
    embedding model's WordPiece tokenizer would have said."""
    from transformers import AutoTokenizer

    from components.common import base_model

    gguf = base_model.gguf_path()
    smollm2 = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    wordpiece = embedder[1]

    def generator(text: str) -> int:
        return len(smollm2.encode(text, add_special_tokens=False))

    def embedding(text: str) -> int:
        return len(wordpiece.encode(text, add_special_tokens=False).ids)

    body, trace = traced["body"], traced["trees"][0]
    metadata, generate = trace.metadata, trace.spans[-1]
    prompt = trace.spans[3].output["prompt"]
    assert metadata["token_counter"] == "SmolLM2-135M-Instruct tokenizer"
    assert metadata["prompt_tokens"] == generator(prompt) == generate.usage["prompt_tokens"]
    assert metadata["answer_tokens"] == generator(body["answer"])
    assert generate.usage["completion_tokens"] == generator(body["answer"])
    assert metadata["query_tokens"] == generator(QUESTION)
    assert generator(prompt) != embedding(prompt)
    assert metadata["prompt_tokens"] != embedding(prompt)


def test_stub_opik_server_receives_the_trace_and_linked_spans(traced: dict[str, Any]) -> None:
    receiver, trace_id = traced["receiver"], traced["body"]["trace_id"]
    traces = receiver.items("/api/v1/private/traces/batch", "traces")
    spans = receiver.items("/api/v1/private/spans/batch", "spans")
    assert [t["id"] for t in traces] == [trace_id]
    assert traces[0]["project_name"] == "twin-test"
    assert set(traces[0]["metadata"]) >= METADATA
    assert all(span["trace_id"] == trace_id for span in spans)
    by_id = {span["id"]: span for span in spans}
    top = [span["name"] for span in spans if span.get("parent_span_id") is None]
    assert top == STEPS
    children = [span for span in spans if span.get("parent_span_id")]
    assert children and all(by_id[c["parent_span_id"]]["name"] == "retrieve" for c in children)
    assert traced["stats"]["exported"] == 1 and traced["stats"]["failed"] == 0
