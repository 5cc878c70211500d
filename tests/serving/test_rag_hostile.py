"""Hostile request bodies: each gets a 4xx with one clear line naming what is wrong, never a 500,
and never reaches the model; the good requests next to them still answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from components.serving.rag.app import MAX_BODY_BYTES, create_app
from components.serving.rag.service import ServiceError

JSON = "application/json"
OBJECT = 'body: expected a JSON object such as {"query": "..."}, got'


def _client(service: Any) -> TestClient:
    # Server exceptions become responses, as in production: a 500 is seen as a 500.
    return TestClient(create_app(service, close_on_shutdown=False), raise_server_exceptions=False)


def surrogate(where: str, at: int, char: str = "\\ud800") -> str:
    why = f"not valid Unicode text (a lone surrogate {char} at character {at})"
    return f"{where}: {why}; send UTF-8 text"


CASES: dict[str, tuple[bytes, str | None, int, str]] = {
    # (raw body, content type, status, exact detail)
    "lone-high-surrogate": (b'{"query": "\\ud800"}', JSON, 422, surrogate("query", 0)),
    "lone-low-surrogate-mid-text": (
        b'{"query": "How do \\udfff rollbacks work?"}',
        JSON,
        422,
        surrogate("query", 7, "\\udfff"),
    ),
    "reversed-pair": (
        b'{"query": "\\ude00\\ud83d"}',
        JSON,
        422,
        surrogate("query", 0, "\\ude00"),
    ),
    "surrogate-in-author": (
        b'{"query": "rollbacks", "author": "Ada \\udc00"}',
        JSON,
        422,
        surrogate("author", 4, "\\udc00"),
    ),
    "surrogate-in-a-key": (
        b'{"query": "rollbacks", "\\ud800": 1}',
        JSON,
        422,
        surrogate("\\ud800", 0),
    ),
    "not-json": (
        b"not json",
        JSON,
        422,
        "body: not valid JSON (Expecting value at line 1 column 1)",
    ),
    "truncated-json": (
        b'{"query": "hi"',
        JSON,
        422,
        "body: not valid JSON (Expecting ',' delimiter at line 1 column 15)",
    ),
    "not-utf8": (
        b'{"query": "\xff\xfe"}',
        JSON,
        422,
        "body: not UTF-8 (invalid start byte at byte 11)",
    ),
    "empty-body": (b"", JSON, 422, 'body: empty; send a JSON object such as {"query": "..."}'),
    "blank-body": (
        b" \n\t ",
        JSON,
        422,
        'body: empty; send a JSON object such as {"query": "..."}',
    ),
    "array": (b'["rollbacks"]', JSON, 422, f"{OBJECT} an array"),
    "null": (b"null", JSON, 422, f"{OBJECT} null"),
    "string": (b'"rollbacks"', JSON, 422, f"{OBJECT} a string"),
    "number": (b"42", JSON, 422, f"{OBJECT} a number"),
    "nested-too-deeply": (
        b'{"query": "hi", "author": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        JSON,
        422,
        "body: not valid JSON (nested too deeply)",
    ),
    "nan": (
        b'{"query": "hi", "top_k": NaN}',
        JSON,
        422,
        "body: not valid JSON (NaN is not a JSON value)",
    ),
    "integer-too-long-to-parse": (
        b'{"query": "hi", "top_k": ' + b"1" * 5_000 + b"}",
        JSON,
        422,
        "body: not valid JSON (Exceeds the limit (4300 digits) for integer string conversion: "
        "value has 5000 digits)",
    ),
    "huge-top-k": (
        b'{"query": "hi", "top_k": ' + b"9" * 1_000 + b"}",
        JSON,
        422,
        "top_k is 99999999999999999999\u2026 (1000 digits); expected 1 to 10",
    ),
    "boolean-top-k": (
        b'{"query": "hi", "top_k": true}',
        JSON,
        422,
        "top_k: Input should be a valid integer, not a boolean",
    ),
    "string-top-k": (
        b'{"query": "hi", "top_k": "many"}',
        JSON,
        422,
        "top_k: Input should be a valid integer, unable to parse string as an integer",
    ),
    "query-object": (
        b'{"query": {"text": "hi"}}',
        JSON,
        422,
        "query: Input should be a valid string",
    ),
    "query-null": (b'{"query": null}', JSON, 422, "query: Input should be a valid string"),
    "author-number": (
        b'{"query": "hi", "author": 7}',
        JSON,
        422,
        "author: Input should be a valid string",
    ),
    "unicode-blank-query": (
        '{"query": "\u2003\u3000\\n"}'.encode(),
        JSON,
        422,
        "query is empty: send the question as a non-empty string",
    ),
    "long-multibyte-query": (
        json.dumps({"query": "\u00e9" * 4001}, ensure_ascii=False).encode(),
        JSON,
        422,
        "query is 4001 characters; the limit is 4000",
    ),
    "long-extra-key": (
        json.dumps({"query": "hi", "k" * 500: 1}).encode(),
        JSON,
        422,
        "k" * 39 + "\u2026: Extra inputs are not permitted",
    ),
    "text-plain": (
        b'{"query": "hi"}',
        "text/plain",
        415,
        "body: expected application/json, got text/plain",
    ),
    "no-content-type": (
        b'{"query": "hi"}',
        None,
        415,
        "body: expected application/json, got no Content-Type",
    ),
    "form": (
        b"query=hi",
        "application/x-www-form-urlencoded",
        415,
        "body: expected application/json, got application/x-www-form-urlencoded",
    ),
    "over-the-size-limit": (
        json.dumps({"query": "x" * MAX_BODY_BYTES}).encode(),
        JSON,
        413,
        f"body is larger than {MAX_BODY_BYTES} bytes; send a shorter query",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_body_is_a_clear_4xx(make_service: Any, stub_model: Any, name: str) -> None:
    raw, content_type, status, detail = CASES[name]
    headers = {"content-type": content_type} if content_type else {}
    response = _client(make_service()).post("/rag", content=raw, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["detail"] == detail
    assert "\n" not in body["detail"] and "Traceback" not in body["detail"]
    assert stub_model.requests == []  # refused before any step ran


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"query": "'
    sent = 0
    while sent < total:
        yield b"x" * 8192
        sent += 8192
    yield b'"}'


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(
    make_service: Any, stub_model: Any
) -> None:
    response = _client(make_service()).post(
        "/rag", content=_chunks(4 * MAX_BODY_BYTES), headers={"content-type": JSON}
    )
    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"body is larger than {MAX_BODY_BYTES} bytes; send a shorter query"
    )
    assert stub_model.requests == []


@pytest.mark.parametrize(
    ("raw", "headers"),
    [
        (b'{"query": "How do rollbacks work? \\ud83d\\ude00"}', {"content-type": JSON}),
        ('{"query": "Rollbacks 😀 réhearsed?"}'.encode(), {"content-type": JSON}),
        (b'{"query": "rollbacks"}', {"content-type": "application/json; charset=utf-8"}),
        (b'\xef\xbb\xbf{"query": "rollbacks"}', {"content-type": JSON}),
        (b'{"query": "rollbacks", "top_k": 2}', {"content-type": "application/vnd.api+json"}),
    ],
    ids=["escaped-surrogate-pair", "emoji-utf8", "charset-parameter", "utf8-bom", "json-suffix"],
)
def test_good_bodies_next_to_the_hostile_ones_still_answer(
    make_service: Any, stub_model: Any, raw: bytes, headers: dict[str, str]
) -> None:
    response = _client(make_service()).post("/rag", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["answer"]
    assert len(stub_model.requests) == 1


def test_hostile_requests_leave_the_service_and_its_traces_healthy(make_service: Any) -> None:
    service = make_service()
    client = _client(service)
    for name in ("lone-high-surrogate", "surrogate-in-author", "not-utf8", "nested-too-deeply"):
        raw, content_type, status, _ = CASES[name]
        assert (
            client.post("/rag", content=raw, headers={"content-type": content_type}).status_code
            == status
        )
    good = client.post("/rag", json={"query": "How do rollbacks work?"})
    assert good.status_code == 200
    assert service.tracer.flush(5)
    stats = client.get("/health").json()["tracing"]
    assert stats["failed"] == 0 and stats["last_error"] is None


@pytest.mark.parametrize(
    ("query", "author", "detail"),
    [
        ("\ud800", None, surrogate("query", 0)),
        ("rollbacks", "Ada \udfff", surrogate("author", 4, "\\udfff")),
    ],
    ids=["query", "author"],
)
def test_the_service_itself_refuses_a_lone_surrogate(
    make_service: Any, stub_model: Any, query: str, author: str | None, detail: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        make_service().answer(query, author)
    assert (caught.value.status, caught.value.message) == (422, detail)
    assert stub_model.requests == []


def test_wrong_method_and_path_are_json_4xx(make_service: Any) -> None:
    client = _client(make_service())
    assert client.get("/rag").status_code == 405
    assert client.get("/rag").json()["detail"] == "Method Not Allowed"
    assert client.post("/nowhere", json={"query": "hi"}).status_code == 404
