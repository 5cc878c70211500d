"""Instruction pairs: filters, deterministic split sizes, offline and LLM generators."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from components.common.domain import stable_id
from components.common.job import JobError
from components.dataset.__main__ import build
from components.dataset.generate import Pair, make_pair, offline_instruction, salient_words
from components.dataset.split import filter_pairs, split_pairs

LONG = "Content hashes make every pipeline rerun safe, because the same input lands on the same id."


def chunk(n: int, text: str | None = None, kind: str = "articles") -> dict[str, Any]:
    return {
        "id": stable_id("chunk", str(n)),
        "content": text or f"{LONG} Variant {n} adds its own detail about retries and caching.",
        "type": kind,
        "title": f"Title {n}",
        "author_full_name": "Ada Twin",
        "link": f"https://ada.example/{n}",
    }


def pairs(count: int) -> list[Pair]:
    return [make_pair(chunk(n), f"Write about topic number {n}.", "test") for n in range(count)]


@pytest.mark.parametrize(
    ("count", "fraction", "test_size"),
    [(10, 0.2, 2), (11, 0.2, 2), (3, 0.5, 2), (2, 0.1, 1), (100, 0.25, 25)],
)
def test_split_sizes(count: int, fraction: float, test_size: int) -> None:
    train, test = split_pairs(pairs(count), fraction, seed=42)
    assert (len(train), len(test)) == (count - test_size, test_size)
    assert not {p.id for p in train} & {p.id for p in test}


def test_split_is_deterministic_per_seed_and_stable_under_growth() -> None:
    first = split_pairs(pairs(50), 0.2, seed=7)
    assert split_pairs(list(reversed(pairs(50))), 0.2, seed=7) == first
    other_seed = split_pairs(pairs(50), 0.2, seed=8)
    assert {p.id for p in other_seed[1]} != {p.id for p in first[1]}
    # Adding rows moves few old rows across the split: ordering depends on each row's own id.
    grown = split_pairs(pairs(60), 0.2, seed=7)
    moved = {p.id for p in first[1]} - {p.id for p in grown[1]}
    assert len(moved) <= 2


def test_too_few_pairs_is_a_clear_error() -> None:
    with pytest.raises(JobError, match="only 1 instruction pair"):
        split_pairs(pairs(1), 0.2, seed=1)


def test_filters_short_long_and_duplicate_rows() -> None:
    rows = [
        make_pair(chunk(0), "Write a paragraph about caching.", "t"),
        make_pair(chunk(1, "Too short to carry a voice."), "Write a paragraph about voice.", "t"),
        make_pair(chunk(2, "word " * 401), "Write a very long passage.", "t"),
        make_pair(chunk(3, chunk(0)["content"].upper()), "Write the same thing again.", "t"),
        make_pair(chunk(4), "Write a paragraph about caching.", "t"),
        make_pair(chunk(5), "Short", "t"),
        make_pair(chunk(6), "Explain retries and caching.", "t"),
    ]
    # Rows are filtered in id order, so the first of two duplicates (by id) is the one kept.
    rows = [replace(row, id=f"row-{n}") for n, row in enumerate(rows)]
    kept, dropped = filter_pairs(list(reversed(rows)))
    assert [p.id for p in kept] == ["row-0", "row-6"]
    assert dropped == {
        "answer too short": 1,
        "answer too long": 1,
        "duplicate answer": 1,
        "duplicate instruction": 1,
        "instruction too short": 1,
    }


def test_offline_generator_is_deterministic_and_specific() -> None:
    post = chunk(1, "Retries retries retries need idempotent jobs and idempotent writes.", "posts")
    assert offline_instruction(post) == offline_instruction(dict(post))
    assert salient_words(post["content"]) == ["retries", "idempotent", "need"]
    instruction = offline_instruction(post)
    assert "retries" in instruction or "Retries" in instruction
    code = {**chunk(2, "def handler(event):\n    return event", "repositories"), "path": "app.py"}
    assert "app.py" in offline_instruction(code)


class FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions: an instruction naming the chunk's title."""

    calls: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.calls.append({"path": self.path, "auth": self.headers["Authorization"], **body})
        prompt = body["messages"][-1]["content"]
        title = prompt.split("Title: ", 1)[1].split("\n", 1)[0]
        if "garbage" in prompt:
            content = "I cannot produce JSON today."
        else:
            instruction = {"instruction": f"LLM: explain the idea of {title}"}
            content = "```json\n" + json.dumps(instruction) + "\n```"
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
        self.send_response(FakeLLM.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeLLM.calls, FakeLLM.status = [], 200
    base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    monkeypatch.setenv("LLM_API_BASE", base)
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    monkeypatch.setenv("LLM_MODEL", "fake-model")
    monkeypatch.setenv("LLM_TIMEOUT", "5")
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def test_llm_writes_instructions_and_bad_replies_fall_back(llm: str) -> None:
    chunks = [chunk(n) for n in range(5)] + [
        chunk(9, f"{LONG} This one makes the fake return garbage.")
    ]
    result = build(chunks, 0.2, seed=1)
    rows = result["train"] + result["test"]
    assert len(rows) == 6 and result["fallbacks"] == 1
    assert result["generator"] == "llm:fake-model"
    by_id = {p.id: p for p in rows}
    assert by_id[chunk(0)["id"]].instruction == "LLM: explain the idea of Title 0"
    assert by_id[chunk(0)["id"]].answer == chunk(0)["content"]  # the author's words stay the answer
    assert by_id[chunk(9)["id"]].generator == "offline"
    assert {c["path"] for c in FakeLLM.calls} == {"/v1/chat/completions"}
    assert {c["auth"] for c in FakeLLM.calls} == {"Bearer sk-test"}
    assert {c["model"] for c in FakeLLM.calls} == {"fake-model"}


def test_a_rejected_key_stops_the_job(llm: str) -> None:
    FakeLLM.status = 401
    with pytest.raises(JobError, match=r"answered HTTP 401 .* \(check LLM_API_BASE, LLM_API_KEY"):
        build([chunk(n) for n in range(3)], 0.2, seed=1)


def test_without_llm_settings_the_offline_generator_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_API_BASE", raising=False)
    result = build([chunk(n) for n in range(10)], 0.2, seed=3)
    assert result["generator"] == "offline" and len(result["test"]) == 2
    assert build([chunk(n) for n in range(10)], 0.2, seed=3) == result
