"""The find-champion Lambda step: the compiled step's own inputs, run through the local Lambda
contract against the local registry, and against the SageMaker registry in moto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.champion.handler import evaluation_key, handle
from sm_pipelines.local import registry
from sm_pipelines.local.job import JobContext, StepFailure
from sm_pipelines.local.state import LocalState
from sm_pipelines.local.steps.lambda_ import run as run_lambda
from tests.components.model.conftest import compiled_step, register_request, resolve

CANDIDATE = "s3://llm-twin-local/llm-twin/llm-twin-ct/train/job-2/output/model.tar.gz"
FUNCTION = "llm-twin-ct-champion-local"


def lambda_context(state: LocalState, tmp_path: Path) -> JobContext:
    return JobContext(
        state=state,
        pipeline="llm-twin-ct",
        execution_id="exec1",
        step="find-champion",
        attempt=1,
        sandbox=tmp_path / "sandbox",
        log_file=tmp_path / "logs/find-champion.log",
        cwd=tmp_path,
        region="us-east-1",
        account="000000000000",
        lambdas={FUNCTION: "components.champion.handler:handle"},
    )


def find_champion(state: LocalState, tmp_path: Path, candidate: str) -> dict[str, str]:
    """The compiled step, its train reference resolved, run as the executor runs it."""
    arguments = resolve(
        compiled_step("find-champion"),
        {"Steps.train.ModelArtifacts.S3ModelArtifacts": candidate},
    )
    done = run_lambda(lambda_context(state, tmp_path), arguments)
    return {item["Name"]: item["Value"] for item in done["OutputParameters"]}


def approve(state: LocalState, model_data: str, status: str = "Approved") -> str:
    record = registry.register(
        state,
        "llm-twin-local",
        {
            "ModelApprovalStatus": status,
            "InferenceSpecification": {"Containers": [{"ModelDataUrl": model_data}]},
        },
        "us-east-1",
        "000000000000",
    )
    return str(record["ModelPackageArn"])


def test_first_second_and_retrained_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler runs in the executor's process, which has no state variable of its own.
    monkeypatch.delenv("SM_PIPELINES_LOCAL_STATE", raising=False)
    state = LocalState(tmp_path / "state")
    first_run = find_champion(state, tmp_path, CANDIDATE)
    assert first_run == {
        "champion": "none",
        "champion_version": "0",
        "candidate_is_champion": "false",
        "evaluation_key": evaluation_key(CANDIDATE, "none"),
    }

    first = approve(state, CANDIDATE)
    approve(state, "s3://elsewhere/pending/model.tar.gz", "PendingManualApproval")
    # A re-run on unchanged data: training was a cache hit, so the candidate is the champion.
    assert find_champion(state, tmp_path, CANDIDATE) == {
        "champion": first,
        "champion_version": "1",
        "candidate_is_champion": "true",
        "evaluation_key": evaluation_key(CANDIDATE, first),
    }
    retrained = CANDIDATE.replace("job-2", "job-3")
    against_first = find_champion(state, tmp_path, retrained)
    assert against_first["candidate_is_champion"] == "false"
    # The same pair always lands on the same key (so evaluation caches); another pair never does.
    assert against_first == find_champion(state, tmp_path, retrained)
    keys = {first_run["evaluation_key"], against_first["evaluation_key"]}
    keys.add(evaluation_key(CANDIDATE, first))
    assert len(keys) == 3 and all(len(k) == 20 and k.isalnum() for k in keys)
    log = (tmp_path / "logs/find-champion.log").read_text()
    assert f'returned {{"champion": "{first}", "champion_version": "1"' in log


def test_missing_inputs_fail_the_step_with_the_reason(tmp_path: Path) -> None:
    ctx = lambda_context(LocalState(tmp_path / "state"), tmp_path)
    arguments = {"FunctionArn": FUNCTION, "Arguments": {"model_package_group": "g"}}
    with pytest.raises(StepFailure, match="needs model_package_group and candidate_model_data"):
        run_lambda(ctx, arguments)


def test_sagemaker_registry_in_moto(aws: dict[str, Any]) -> None:
    sagemaker, s3 = aws["sagemaker"], aws["s3"]
    request = register_request(1, "Approved", s3)
    sagemaker.create_model_package_group(ModelPackageGroupName=request["ModelPackageGroupName"])
    event = {"model_package_group": request["ModelPackageGroupName"], "candidate_model_data": ""}

    model_data = request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert handle({**event, "candidate_model_data": model_data}, None)["champion"] == "none"
    arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    assert handle({**event, "candidate_model_data": model_data}, None) == {
        "champion": arn,
        "champion_version": "1",
        "candidate_is_champion": "true",
        "evaluation_key": evaluation_key(model_data, arn),
    }
    newer = handle({**event, "candidate_model_data": "s3://b/other/model.tar.gz"}, None)
    assert newer["champion"] == arn and newer["candidate_is_champion"] == "false"
