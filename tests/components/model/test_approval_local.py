"""Approval deploys locally (issue 17): `sm-pipelines models approve|reject` records who decided
what and why in the local registry, emits the model package event to events.jsonl, and the same
rules as in AWS start llm-twin-deploy, which switches the local endpoint (and, on a rejection of
the live version, puts the previous Approved one back)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from components.common import local_endpoints
from sm_pipelines.cli import main
from sm_pipelines.local import registry
from sm_pipelines.local.execution import list_executions
from sm_pipelines.local.state import LocalState

GROUP = "llm-twin-local"
ENDPOINT = "llm-twin-local"


def _register(state: Path, model: Path, status: str = "PendingManualApproval") -> str:
    local = LocalState(state)
    version = len(registry.versions(local, GROUP)) + 1
    uri = f"s3://llm-twin-local/train/{version}/model.tar.gz"
    archive = local.s3_path(uri)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model.iterdir()):
            tar.add(path, arcname=path.name)
    record = {
        "ModelApprovalStatus": status,
        "InferenceSpecification": {"Containers": [{"ModelDataUrl": uri}]},
    }
    return registry.register(local, GROUP, record, "us-east-1", "000000000000")["ModelPackageArn"]


def _models(state: Path, *args: str) -> int:
    return main(["--definitions", "definitions", "models", *args, "--state", str(state)])


def _serving(state: Path) -> str | None:
    record = local_endpoints.read(state, ENDPOINT)
    return record and record["ModelPackageArn"]


def test_approve_deploys_through_the_deploy_pipeline_and_reject_rolls_back(
    project: Path,
    tiny_base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("SM_PIPELINES_USER", "ada")
    state = tmp_path / "state"
    v1 = _register(state, tiny_base)
    v2 = _register(state, tiny_base)

    assert _models(state, "approve", GROUP, "1", "--reason", "first good twin") == 0
    out = capsys.readouterr().out
    assert f"{GROUP} version 1: Approved by ada" in out
    assert "rule llm-twin-deploy-model-approved-local: starting llm-twin-deploy" in out
    assert f"ModelPackageArn={v1}" in out
    assert _serving(state) == v1

    assert _models(state, "approve", GROUP, "2", "--reason", "answers in her voice") == 0
    capsys.readouterr()
    assert _serving(state) == v2

    # The event is the one AWS sends, and the rule matched it by group and status.
    events = [json.loads(x) for x in (state / "events.jsonl").read_text().splitlines()]
    decided = [e for e in events if e["detail-type"] == "SageMaker Model Package State Change"]
    assert [e["detail"]["ModelApprovalStatus"] for e in decided] == ["Approved", "Approved"]
    assert decided[-1]["detail"]["ModelPackageArn"] == v2
    assert decided[-1]["detail"]["ApprovalDescription"] == "answers in her voice"
    assert decided[-1]["detail"]["LastModifiedBy"] == {"UserProfileName": "ada"}

    assert _models(state, "reject", GROUP, "2", "--reason", "rude to readers") == 0
    out = capsys.readouterr().out
    assert "rule llm-twin-deploy-model-rejected-local: starting llm-twin-deploy" in out
    assert _serving(state) == v1  # the previous Approved version is back

    deploys = [e for e in list_executions(LocalState(state)) if e.pipeline == "llm-twin-deploy"]
    assert len(deploys) == 3 and all(e.status == "Succeeded" for e in deploys)
    newest = deploys[0]
    assert newest.steps["roll-back"].status != "Succeeded"  # the smoke test passed

    # `models` shows who decided what, when and why.
    assert _models(state) == 0
    table = capsys.readouterr().out
    assert "Rejected by ada at " in table and ": rude to readers" in table
    assert "Approved by ada at " in table and ": first good twin" in table

    # Approving the live version again deploys nothing (idempotent on the endpoint's version).
    assert _models(state, "approve", GROUP, "1") == 0
    capsys.readouterr()
    record = local_endpoints.read(state, ENDPOINT)
    assert len(record["ConfigHistory"]) == 3


def test_deciding_on_a_missing_version_is_one_line(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(project)
    assert _models(tmp_path / "state", "approve", GROUP, "9") == 2
    assert "has no version 9" in capsys.readouterr().err
