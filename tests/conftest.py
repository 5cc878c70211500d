"""Shared fixtures: a copy of the definitions to edit, fake AWS, a loopback moto server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of definitions/, components/ and data/ that a test may edit freely."""
    shutil.copytree(ROOT / "definitions", tmp_path / "definitions")
    shutil.copytree(
        ROOT / "components", tmp_path / "components", ignore=shutil.ignore_patterns("__pycache__")
    )
    # The pipeline's default DataSources (data/sample) resolve against the project root.
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return tmp_path


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that only moto accepts, and no endpoint override from the developer's shell."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto_server on 127.0.0.1 for code that needs a real HTTP endpoint; its URL."""
    port = free_port()
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    # The staging environment's account, so ARNs in the definitions resolve inside moto.
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "MOTO_ACCOUNT_ID": "111122223333"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("moto_server exited at start") from None
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("moto_server did not start within 30 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def moto_s3_echoes_eventbridge(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto stores a bucket's EventBridgeConfiguration but leaves it out of
    GetBucketNotificationConfiguration (AWS returns it as {}); echo it so idempotency of the
    S3 new-data trigger can be tested."""
    from moto.s3 import responses

    original = responses.S3Response.get_bucket_notification

    def get_bucket_notification(self):  # type: ignore[no-untyped-def]
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        response = original(self)
        if config is None or config.event_bridge is None:
            return response
        status, headers, body = response
        text = body.decode() if isinstance(body, bytes) else body
        marker = "</NotificationConfiguration>"
        if marker in text:
            text = text.replace(marker, "<EventBridgeConfiguration/>" + marker)
        else:
            text = (
                '<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration>'
                "<EventBridgeConfiguration/></NotificationConfiguration>"
            )
        return status, headers, text

    monkeypatch.setattr(responses.S3Response, "get_bucket_notification", get_bucket_notification)


STAGING_ACCOUNT = "111122223333"
STAGING_REGION = "eu-west-1"
STAGING_BUCKET = "llm-twin-staging-artifacts"
STAGING_ALERT_QUEUE = "llm-twin-alerts-staging"
EXECUTION_ROLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def prepare_staging_account(**client_args: str) -> None:
    """What the platform team creates before the first upsert: bucket, execution role, queue."""
    import json

    import boto3

    region = {"region_name": STAGING_REGION, **client_args}
    boto3.client("s3", **region).create_bucket(
        Bucket=STAGING_BUCKET, CreateBucketConfiguration={"LocationConstraint": STAGING_REGION}
    )
    boto3.client("iam", **region).create_role(
        RoleName="llm-twin-staging-sagemaker-execution",
        AssumeRolePolicyDocument=json.dumps(EXECUTION_ROLE_TRUST),
    )
    boto3.client("sqs", **region).create_queue(QueueName=STAGING_ALERT_QUEUE)


def empty_moto_account(moto_server: str) -> dict[str, str]:
    """The session's moto server reset to an empty account (it lives for the whole session),
    and the environment a CLI subprocess needs to reach it."""
    import urllib.request

    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": STAGING_REGION,
    }
    env.pop("AWS_PROFILE", None)
    return env


@pytest.fixture
def staging_account(fake_aws: None, monkeypatch: pytest.MonkeyPatch, moto_s3_echoes_eventbridge):
    """In-process moto acting as the staging account, prepared as for a first upsert."""
    from moto import mock_aws

    monkeypatch.setenv("MOTO_ACCOUNT_ID", STAGING_ACCOUNT)
    with mock_aws():
        prepare_staging_account()
        yield


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    """A private copy of tests/fixtures/definitions/ (no compiled/) with components/ beside it,
    for one edit and a `validate`."""
    ignore = shutil.ignore_patterns("compiled", "__pycache__")
    shutil.copytree(ROOT / "tests/fixtures/definitions", tmp_path / "definitions", ignore=ignore)
    shutil.copytree(ROOT / "components", tmp_path / "components", ignore=ignore)
    return tmp_path / "definitions"


def validate_lines(definitions: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """`sm-pipelines validate` on `definitions`: its exit code and stderr lines (never a
    traceback)."""
    from sm_pipelines.cli import main

    code = main(["--definitions", str(definitions), "validate"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()
