"""The RAG prompt templates as versioned prompts: every trace records the prompt's name, version
and commit, in the local trace log (local prompt library) and in what the Opik SDK sends (Opik's
prompt library, on a loopback receiver); the same text is the same version; a conversation's
session is the trace's thread_id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from components.serving.rag.app import create_app
from components.serving.rag.prompt import RAG_ANSWER, PromptTemplate
from components.serving.rag.prompt_library import LocalPromptLibrary, content_commit
from tests.opik_fake import FakeOpik
from tests.serving.conftest import ADA

QUESTION = "How do you replace a model in production?"


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


def ask(service: Any, **extra: Any) -> dict[str, Any]:
    client = TestClient(create_app(service, close_on_shutdown=False))
    response = client.post("/rag", json={"query": QUESTION, "author": ADA, **extra})
    assert response.status_code == 200, response.text
    # Generous: the machine may be busy, and a flush cut short would lose the trace.
    assert service.tracer.flush(30), service.tracer.stats()
    return response.json()


def log_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_local_traces_record_the_prompt_version_and_the_thread(
    make_service: Any, tmp_path: Path
) -> None:
    body = ask(make_service(), session_id="conversation-7")
    commit = content_commit(RAG_ANSWER.template)
    assert body["prompt"] == {"name": "llm-twin-rag-answer", "version": "v1", "commit": commit}
    [trace] = [r for r in log_records(tmp_path / "traces.jsonl") if r["kind"] == "trace"]
    assert trace["id"] == body["trace_id"] and trace["thread_id"] == "conversation-7"
    metadata = trace["metadata"]
    assert (metadata["prompt_name"], metadata["prompt_version"], metadata["prompt_commit"]) == (
        "llm-twin-rag-answer",
        "v1",
        commit,
    )
    assert metadata["prompt_library"] == "local"
    [span] = [s for s in trace["spans"] if s["name"] == "prompt"]
    assert span["metadata"]["opik_prompts"][0]["version"]["commit"] == commit
    [version] = log_records(tmp_path / "prompts.jsonl")
    assert version["template"] == RAG_ANSWER.template and version["commit"] == commit


def test_the_same_text_is_the_same_version_and_new_text_the_next(
    make_service: Any, tmp_path: Path
) -> None:
    first = make_service()
    ask(first)
    first.close()  # one local store user at a time
    ask(make_service())  # a second service, as after a restart
    assert len(log_records(tmp_path / "prompts.jsonl")) == 1
    library = LocalPromptLibrary(tmp_path / "prompts.jsonl")
    changed = PromptTemplate(RAG_ANSWER.name, RAG_ANSWER.template.replace("few", "two"))
    second = library.register(changed)
    assert second.version == "v2" and second.commit == content_commit(changed.template)
    assert library.register(RAG_ANSWER).version == "v1"


def test_opik_traces_link_the_prompt_version_opik_gave(make_service: Any) -> None:
    with FakeOpik() as opik:
        service = make_service(OPIK_URL_OVERRIDE=opik.api_url, OPIK_PROJECT_NAME="twin-test")
        body = ask(service, session_id="conversation-9")
        service.close()
        created = opik.prompts["llm-twin-rag-answer"][0]
        assert body["prompt"] == {
            "name": "llm-twin-rag-answer",
            "version": "v1",
            "commit": created["commit"],
        }
        assert created["template"] == RAG_ANSWER.template
        again = make_service(OPIK_URL_OVERRIDE=opik.api_url, OPIK_PROJECT_NAME="twin-test")
        assert ask(again)["prompt"]["version"] == "v1"
        again.close()
    # The SDK read the latest version and made none the second time: same text, same version.
    assert len(opik.sent("POST", "/prompts/versions")) == 1
    sent = [t for b in opik.sent("POST", "/traces/batch") for t in b["traces"]]
    found = [t for t in sent if t["id"] == body["trace_id"]]
    assert found, opik.paths()
    trace = found[-1]
    assert trace["thread_id"] == "conversation-9"
    metadata = trace["metadata"]
    assert metadata["prompt_name"] == "llm-twin-rag-answer"
    assert metadata["prompt_version"] == "v1" and metadata["prompt_commit"] == created["commit"]
    assert metadata["opik_prompts"][0]["version"]["id"] == created["id"]


def test_a_prompt_library_that_refuses_leaves_the_content_commit(
    make_service: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpik(refuse={"/prompts"}) as opik:
        service = make_service(OPIK_URL_OVERRIDE=opik.api_url)
        body = ask(service)
        ask(service)
        service.close()
    assert body["prompt"] == {
        "name": "llm-twin-rag-answer",
        "version": None,
        "commit": content_commit(RAG_ANSWER.template),
    }
    warnings = [line for line in capsys.readouterr().err.splitlines() if "cannot register" in line]
    assert len(warnings) == 1 and "llm-twin-rag-answer" in warnings[0]


def test_ask_prints_the_prompt_version_of_its_trace(
    make_service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from components.serving.rag import ask as ask_command

    body = ask(make_service())
    commit = content_commit(RAG_ANSWER.template)
    ask_command.print_answer(QUESTION, body)
    assert f"prompt:   llm-twin-rag-answer v1 (commit {commit})" in capsys.readouterr().out
    line = ask_command.where_the_trace_went(body["trace_id"], {"destination": "log"})
    assert line == (
        f"trace {body['trace_id']} (prompt llm-twin-rag-answer v1 (commit {commit})) written to "
        f"{tmp_path / 'traces.jsonl'}"
    )
