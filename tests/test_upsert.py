"""Upsert, diff and code upload against moto: in process, and through a loopback moto_server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sm_pipelines.cli import main
from sm_pipelines.compile.bundle import collect_bundle
from tests.conftest import (
    STAGING_BUCKET,
    STAGING_REGION,
    empty_moto_account,
    prepare_staging_account,
)

REGION = STAGING_REGION


def _upsert(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    args = ["--definitions", str(project / "definitions"), "upsert", "--env", "staging", *extra]
    assert main(args) == 0
    return capsys.readouterr().out.splitlines()


def _pipeline_line(lines: list[str]) -> str:
    (line,) = [line for line in lines if line.startswith("pipeline llm-twin-ct:")]
    return line


@pytest.mark.usefixtures("staging_account")
def test_upsert_creates_then_reports_unchanged_then_updates(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--definitions", str(project / "definitions"), "build"]) == 0
    capsys.readouterr()

    lines = _upsert(project, capsys)
    assert lines[0].startswith("code ") and ": uploaded " in lines[0]
    assert _pipeline_line(lines) == "pipeline llm-twin-ct: created"

    sagemaker = boto3.client("sagemaker", region_name=REGION)
    described = sagemaker.describe_pipeline(PipelineName="llm-twin-ct")
    compiled = project / "definitions/compiled/staging/llm-twin-ct.json"
    assert described["PipelineDefinition"] == compiled.read_text(encoding="utf-8")
    assert described["RoleArn"] == (
        "arn:aws:iam::111122223333:role/llm-twin-staging-sagemaker-execution"
    )
    assert described["PipelineDisplayName"] == "LLM-Twin-continuous-training"
    tags = sagemaker.list_tags(ResourceArn=described["PipelineArn"])["Tags"]
    assert {"Key": "environment", "Value": "staging"} in tags
    assert {"Key": "sm-pipelines:managed-by", "Value": "sm-pipelines"} in tags

    lines = _upsert(project, capsys)
    assert lines[0].endswith(": already present")
    assert _pipeline_line(lines) == "pipeline llm-twin-ct: unchanged"

    pipeline_yaml = project / "definitions/pipelines/llm-twin-ct.yaml"
    text = pipeline_yaml.read_text(encoding="utf-8")
    assert "default: 0.2\n" in text
    pipeline_yaml.write_text(text.replace("default: 0.2\n", "default: 0.3\n"), "utf-8")
    assert _pipeline_line(_upsert(project, capsys)) == "pipeline llm-twin-ct: updated (definition)"
    deployed = json.loads(
        sagemaker.describe_pipeline(PipelineName="llm-twin-ct")["PipelineDefinition"]
    )
    threshold = next(p for p in deployed["Parameters"] if p["Name"] == "MinAnswerQuality")
    assert threshold["DefaultValue"] == 0.3

    assert _pipeline_line(_upsert(project, capsys)) == "pipeline llm-twin-ct: unchanged"


@pytest.mark.usefixtures("staging_account")
def test_code_is_uploaded_under_its_content_hash(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _upsert(project, capsys)
    bundle = collect_bundle(project)
    s3 = boto3.client("s3", region_name=REGION)
    base = f"llm-twin/code/{bundle.digest}"
    listed = s3.list_objects_v2(Bucket=STAGING_BUCKET, Prefix=base)["Contents"]
    assert f"{base}/sourcedir.tar.gz" in {item["Key"] for item in listed}
    for path, data in bundle.files:
        body = s3.get_object(Bucket=STAGING_BUCKET, Key=f"{base}/src/{path}")["Body"].read()
        assert body == data
    tarball = s3.get_object(Bucket=STAGING_BUCKET, Key=f"{base}/sourcedir.tar.gz")
    assert tarball["Body"].read() == bundle.tarball()
    definition = boto3.client("sagemaker", region_name=REGION).describe_pipeline(
        PipelineName="llm-twin-ct"
    )["PipelineDefinition"]
    assert f"s3://{STAGING_BUCKET}/{base}/src/" in definition


@pytest.mark.usefixtures("staging_account")
def test_image_tag_pins_every_ecr_image(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _upsert(project, capsys, "--image-tag", "abc123")
    text = boto3.client("sagemaker", region_name=REGION).describe_pipeline(
        PipelineName="llm-twin-ct"
    )["PipelineDefinition"]
    for image in ("processing", "training", "serving"):
        assert f"llm-twin-{image}:abc123" in text
    assert ":latest" not in text


@pytest.mark.usefixtures("staging_account")
def test_diff_is_empty_after_upsert_and_shows_a_change(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definitions = str(project / "definitions")
    assert main(["--definitions", definitions, "diff", "--env", "staging"]) == 1
    assert "not deployed" in capsys.readouterr().out
    _upsert(project, capsys)
    assert main(["--definitions", definitions, "diff", "--env", "staging"]) == 0
    assert "no differences" in capsys.readouterr().out
    env_yaml = project / "definitions/environments/staging.yaml"
    text = env_yaml.read_text(encoding="utf-8")
    env_yaml.write_text(text.replace("training: ml.g5.2xlarge", "training: ml.g5.4xlarge"))
    assert main(["--definitions", definitions, "diff", "--env", "staging"]) == 1
    changed = [line[0] + line[1:].strip() for line in capsys.readouterr().out.splitlines()]
    assert any(line.startswith('-"InstanceType": "ml.g5.2xlarge"') for line in changed)
    assert any(line.startswith('+"InstanceType": "ml.g5.4xlarge"') for line in changed)


@pytest.mark.usefixtures("fake_aws")
def test_missing_bucket_is_one_line_aws_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_aws():
        code = main(["--definitions", str(project / "definitions"), "upsert", "--env", "staging"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1
    assert err.startswith("error: s3 ")
    assert "NoSuchBucket" in err or "404" in err


def test_local_environment_is_not_upserted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--definitions", str(project / "definitions"), "upsert", "--env", "local"]) == 2
    assert "run it with `sm-pipelines run <pipeline> --local`" in capsys.readouterr().err


CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _fresh_staging_account(moto_server: str) -> dict[str, str]:
    """An empty staging account on the server (which lives for the whole session), prepared
    for a first upsert; the environment a CLI subprocess needs to reach it."""
    env = empty_moto_account(moto_server)
    prepare_staging_account(endpoint_url=moto_server, **CREDENTIALS)
    return env


def test_upsert_against_moto_server_prints_the_three_states(
    project: Path, moto_server: str
) -> None:
    env = _fresh_staging_account(moto_server)
    command = [
        sys.executable,
        "-m",
        "sm_pipelines",
        "--definitions",
        str(project / "definitions"),
        "upsert",
        "--env",
        "staging",
    ]

    def run() -> list[str]:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert _pipeline_line(run()) == "pipeline llm-twin-ct: created"
    pipeline_yaml = project / "definitions/pipelines/llm-twin-ct.yaml"
    text = pipeline_yaml.read_text(encoding="utf-8")
    pipeline_yaml.write_text(text.replace("default: 0.2\n", "default: 0.25\n"), "utf-8")
    assert _pipeline_line(run()) == "pipeline llm-twin-ct: updated (definition)"
    third = run()
    assert _pipeline_line(third) == "pipeline llm-twin-ct: unchanged"
    assert third[0].endswith(": already present")
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=moto_server, region_name=REGION, **CREDENTIALS
    )
    described = sagemaker.describe_pipeline(PipelineName="llm-twin-ct")
    assert '"DefaultValue": 0.25' in described["PipelineDefinition"]


def test_diff_with_the_deployed_image_tag_shows_no_change_on_a_moto_server(
    project: Path, moto_server: str
) -> None:
    env = _fresh_staging_account(moto_server)
    base = [sys.executable, "-m", "sm_pipelines", "--definitions", str(project / "definitions")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], env=env, capture_output=True, text=True, timeout=180)

    assert run("upsert", "--env", "staging", "--image-tag", "0a1b2c3").returncode == 0
    same = run("diff", "--env", "staging", "--image-tag", "0a1b2c3")
    assert (same.returncode, same.stdout.strip()) == (
        0,
        "no differences: staging matches the compiled definitions",
    )
    other = run("diff", "--env", "staging")
    assert other.returncode == 1
    assert "llm-twin-processing:0a1b2c3" in other.stdout
    assert "llm-twin-processing:latest" in other.stdout
