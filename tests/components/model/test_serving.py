"""The model server answers boto3's sagemaker-runtime invoke_endpoint on 127.0.0.1: the
round-trip, its error shapes, redeploys picked up live, and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from components.common import model_registry, twin_model
from components.common.twin_model import generate
from components.deploy import local_endpoint
from components.serving.model_server import ModelHost, make_server, parse_request
from tests.components.model.conftest import ROOT, one_line_failure
from tests.components.model.test_deploy import local_package

ENDPOINT = "llm-twin-local"


def runtime(url: str) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # pragma: allowlist secret
        config=Config(retries={"max_attempts": 1}),
    )


def invoke(
    client: Any, body: Any, endpoint: str = ENDPOINT, content_type: str = "application/json"
) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.invoke_endpoint(EndpointName=endpoint, Body=data, ContentType=content_type)


@pytest.fixture
def deployed(tmp_path: Path, tiny_base: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder whose llm-twin-local endpoint serves the tiny model (version 1)."""
    state = tmp_path / "state"
    monkeypatch.setenv("SM_PIPELINES_LOCAL_STATE", str(state))
    arn = local_package(state, tiny_base)
    local_endpoint.deploy(state, model_registry.describe(arn), ENDPOINT, check=lambda p: None)
    monkeypatch.delenv("SM_PIPELINES_LOCAL_STATE")
    return state


@pytest.fixture
def served(deployed: Path) -> Iterator[tuple[str, ModelHost]]:
    host = ModelHost(deployed, ENDPOINT, None)
    server = make_server(host, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", host
    finally:
        server.shutdown()
        server.server_close()


def test_invoke_endpoint_round_trip(served: tuple[str, ModelHost]) -> None:
    url, _ = served
    response = invoke(
        runtime(url),
        {"inputs": "Write a short note about caching.", "parameters": {"max_new_tokens": 5}},
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ContentType"] == "application/json"
    answer = json.loads(response["Body"].read())
    assert isinstance(answer, list) and len(answer) == 1
    assert isinstance(answer[0]["generated_text"], str)

    batch = invoke(runtime(url), {"inputs": ["one", "two"], "parameters": {"max_new_tokens": 2}})
    assert len(json.loads(batch["Body"].read())) == 2
    full = invoke(
        runtime(url),
        {"inputs": "Prompt:", "parameters": {"max_new_tokens": 2, "return_full_text": True}},
    )
    assert json.loads(full["Body"].read())[0]["generated_text"].startswith("Prompt:")


def test_repetition_penalty_is_parsed_with_the_hugging_face_default() -> None:
    assert parse_request({"inputs": "x"}).repetition_penalty == 1.0
    penalised = parse_request({"inputs": "x", "parameters": {"repetition_penalty": 1.3}})
    assert penalised.repetition_penalty == 1.3


def test_repetition_penalty_stops_the_real_model_looping(smollm2_base: Any) -> None:
    """Greedy SmolLM2 circles back to the same words; the RAG service's penalty (1.2) must give
    an answer with mostly distinct tokens."""
    model, tokenizer = twin_model.load(Path(smollm2_base.location))
    prompt = "How do you roll out a new model version without risking production?"

    def distinct_share(penalty: float) -> tuple[str, float]:
        (answer,) = generate(
            model, tokenizer, [prompt], max_new_tokens=48, repetition_penalty=penalty
        )
        ids = tokenizer(answer)["input_ids"]
        return answer, len(set(ids)) / len(ids)

    (plain, plain_share), (penalised, penalised_share) = distinct_share(1.0), distinct_share(1.2)
    assert plain != penalised
    assert penalised_share > plain_share and penalised_share > 0.8, (plain, penalised)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ({"parameters": {}}, "application/json", "'inputs' must be a non-empty string"),
        ({"inputs": ""}, "application/json", "'inputs' must be a non-empty string"),
        ({"inputs": "x", "parameters": {"max_new_tokens": 0}}, "application/json", "between 1 and"),
        ({"inputs": "x", "parameters": {"temperature": "hot"}}, "application/json", "a number"),
        (
            {"inputs": "x", "parameters": {"repetition_penalty": 0.5}},
            "application/json",
            "'repetition_penalty' must be between 1 and 2",
        ),
        (b"{not json", "application/json", "the body is not JSON"),
        (b"hello", "text/plain", "send application/json"),
    ],
)
def test_bad_requests_come_back_as_model_errors(
    served: tuple[str, ModelHost], body: Any, content_type: str, message: str
) -> None:
    url, _ = served
    with pytest.raises(ClientError) as caught:
        invoke(runtime(url), body, content_type=content_type)
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400 and message in error["OriginalMessage"]


def test_unknown_endpoint_is_a_validation_error(served: tuple[str, ModelHost]) -> None:
    url, _ = served
    with pytest.raises(ClientError) as caught:
        invoke(runtime(url), {"inputs": "x"}, endpoint="someone-else")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint someone-else of account 000000000000 not found." in str(caught.value)


def test_redeploy_is_served_without_a_restart(
    served: tuple[str, ModelHost], deployed: Path, tiny_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, host = served
    invoke(runtime(url), {"inputs": "x", "parameters": {"max_new_tokens": 1}})
    before = host.current().config
    monkeypatch.setenv("SM_PIPELINES_LOCAL_STATE", str(deployed))
    arn = local_package(deployed, tiny_base)
    record = local_endpoint.deploy(
        deployed, model_registry.describe(arn), ENDPOINT, check=lambda p: None
    )
    invoke(runtime(url), {"inputs": "x", "parameters": {"max_new_tokens": 1}})
    assert host.current().config == record["EndpointConfigName"] != before


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_a_local_endpoint(deployed: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "components.serving.model_server",
            "--state",
            str(deployed),
            "--endpoint",
            ENDPOINT,
            "--port",
            str(port),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        loaded = process.stdout.readline()
        assert loaded.startswith("model_server: loaded llm-twin-local-v1-"), loaded
        banner = process.stdout.readline()  # printed once the model is loaded and bound
        assert f"serving {ENDPOINT} (" in banner and f"127.0.0.1:{port}" in banner, banner
        response = invoke(
            runtime(f"http://127.0.0.1:{port}"),
            {"inputs": "hello", "parameters": {"max_new_tokens": 3}},
        )
        assert "generated_text" in json.loads(response["Body"].read())[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_without_a_deployed_endpoint_fails_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "components.serving.model_server",
            "--state",
            str(tmp_path),
            "--endpoint",
            ENDPOINT,
            "--port",
            "0",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    one_line_failure(done, "model_server", f"endpoint {ENDPOINT} is not deployed under")


def test_cli_needs_an_endpoint_or_a_model_dir() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "components.serving.model_server", "--port", "0"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "give either --state and --endpoint, or --model-dir" in done.stderr
