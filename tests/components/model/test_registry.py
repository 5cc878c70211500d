"""Registration and approval in moto with the compiled RegisterModel step's own request, and the
champion lookup that evaluation and deploy share (AWS and local registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.common import model_registry
from components.common.job import JobError
from sm_pipelines.local import registry
from sm_pipelines.local.state import LocalState
from tests.components.model.conftest import BUCKET, register_request


def test_registration_and_approval_with_the_pipelines_request(aws: dict[str, Any]) -> None:
    sagemaker, s3 = aws["sagemaker"], aws["s3"]
    first = register_request(1, "PendingManualApproval", s3)
    group = first["ModelPackageGroupName"]
    assert group == "llm-twin-local"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    assert model_registry.champion(group) is None  # a group with nothing approved

    arn = sagemaker.create_model_package(**first)["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "exec-1/evaluation/evaluation.json"
    )
    assert model_registry.champion(group) is None  # pending is not a champion
    assert described["CustomerMetadataProperties"] == {
        "opik_dataset": "llm-twin-test-0123",
        "opik_experiment": "exp-1",
    }

    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    champion = model_registry.champion(group)
    assert champion is not None and champion.arn == arn and champion.version == 1
    assert champion.model_data_url == f"s3://{BUCKET}/train/1/model.tar.gz"
    assert champion.instance_types == ("ml.m5.xlarge",)
    assert champion.report() == {"metrics": {"answer_quality": 0.41, "perplexity": 5.0}}

    second = sagemaker.create_model_package(**register_request(2, "Approved", s3))
    assert model_registry.champion(group).version == 2
    sagemaker.update_model_package(
        ModelPackageArn=second["ModelPackageArn"], ModelApprovalStatus="Rejected"
    )
    assert model_registry.champion(group).version == 1
    assert model_registry.describe(second["ModelPackageArn"]).status == "Rejected"


def test_group_that_does_not_exist_has_no_champion(aws: dict[str, Any]) -> None:
    assert model_registry.champion("never-created") is None


def test_unknown_package_arn_is_a_clear_error(aws: dict[str, Any]) -> None:
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/llm-twin/7"
    with pytest.raises(JobError, match="cannot describe model package"):
        model_registry.describe(arn)


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "llm-twin/3",
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/llm-twin",
        "arn:aws:sagemaker:eu-west-1:123456789012:model/llm-twin/3",
    ],
)
def test_malformed_arns_are_refused(arn: str) -> None:
    with pytest.raises(JobError, match="is not a model package version ARN"):
        model_registry.parse_arn(arn)


def test_local_registry_records_are_read_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = LocalState(tmp_path)
    monkeypatch.setenv("SM_PIPELINES_LOCAL_STATE", str(tmp_path))
    assert model_registry.champion("g") is None
    record = registry.register(
        state,
        "g",
        {
            "ModelApprovalStatus": "Approved",
            "InferenceSpecification": {"Containers": [{"ModelDataUrl": "s3://b/m.tar.gz"}]},
            "Metrics": {"ModelQuality.Statistics": {"metrics": {"answer_quality": 0.5}}},
        },
        "us-east-1",
        "000000000000",
    )
    found = model_registry.describe(record["ModelPackageArn"])
    assert found == model_registry.champion("g")
    assert found.report() == {"metrics": {"answer_quality": 0.5}}
    with pytest.raises(JobError, match="is not in the local registry"):
        model_registry.describe("arn:aws:sagemaker:us-east-1:000000000000:model-package/g/9")
