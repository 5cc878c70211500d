"""Images as SageMaker has them: which local stand-in each image URI gets, in any region and
account, and the XGBoost built-in algorithm trained, evaluated, judged and registered the way
the best-known SageMaker Pipelines example (abalone) does it, in definitions the real SDK builds.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.transformer import Transformer
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

from sm_pipelines.compile.session import offline_session
from sm_pipelines.config.environment import LocalImage, LocalSettings
from sm_pipelines.local import registry
from sm_pipelines.local.execution import FAILED, NOT_EXECUTED, SUCCEEDED, Execution
from sm_pipelines.local.images import ImageMap, sagemaker_image
from sm_pipelines.local.sandbox import namespace_prefix
from sm_pipelines.local.state import LocalState
from tests.local_definitions import run_sdk_pipeline

pytest.importorskip("xgboost")

BUCKET = "images"
PREFIX = f"s3://{BUCKET}/abalone"
ROLE = "arn:aws:iam::000000000000:role/runner"
REGION = "eu-west-1"
XGBOOST = image_uris.retrieve("xgboost", region=REGION, version="1.7-1")
NAMESPACE, WHY_NOT = namespace_prefix()
needs_namespace = pytest.mark.skipif(NAMESPACE is None, reason=f"no mount namespace: {WHY_NOT}")


# -- which stand-in an image gets ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("framework", "version", "region", "expected", "algorithm"),
    [
        ("xgboost", "1.7-1", "us-east-1", "xgboost", "xgboost"),
        ("xgboost", "1.0-1", "cn-north-1", "xgboost", "xgboost"),
        ("sklearn", "1.2-1", "ap-southeast-2", "sklearn", None),
        ("pytorch", "2.1", "eu-central-1", "pytorch", None),
        ("linear-learner", None, "us-west-2", "linear-learner", "linear-learner"),
    ],
)
def test_sagemaker_images_are_known_in_any_region(
    framework: str, version: str | None, region: str, expected: str, algorithm: str | None
) -> None:
    extra = {"py_version": "py310", "instance_type": "ml.m5.xlarge"}
    uri = image_uris.retrieve(
        framework,
        region=region,
        version=version,
        **(extra if framework == "pytorch" else {}),
        image_scope="training",
    )
    runtime = ImageMap().runtime(uri)
    assert (sagemaker_image(uri), runtime.framework, runtime.algorithm) == (
        expected,
        expected,
        algorithm,
    )


def test_local_images_map_globs_to_interpreters_and_algorithms(tmp_path: Path) -> None:
    private = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/xgb:2"
    ours = "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm-twin-training:abc"
    local = LocalSettings(
        images={
            "*/team/xgb:*": LocalImage(algorithm="xgboost", python="/opt/xgb/bin/python"),
            "*/llm-twin-*": LocalImage(python="/opt/twin/bin/python"),
        },
        interpreters={"exact:1": "/opt/exact/bin/python"},
    )
    images = ImageMap.from_settings(local)
    assert (images.runtime(private).algorithm, images.python(private)) == (
        "xgboost",
        "/opt/xgb/bin/python",
    )
    assert (images.runtime(ours).algorithm, images.python(ours)) == (None, "/opt/twin/bin/python")
    assert images.python("exact:1") == "/opt/exact/bin/python"
    assert images.python("elsewhere:1") == images.default_python


# -- the abalone pattern: XGBoost algorithm -> evaluation -> condition -> register ----------------
EVALUATE = """\
import json, os, pickle, tarfile
import numpy as np
import xgboost

with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
    tar.extractall(path=".")
model = pickle.load(open("xgboost-model", "rb"))
test = np.loadtxt("/opt/ml/processing/test/test.csv", delimiter=",", ndmin=2)
predictions = model.predict(xgboost.DMatrix(test[:, 1:]))
mse = float(np.mean((test[:, 0] - predictions) ** 2))
os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as out:
    json.dump({"regression_metrics": {"mse": {"value": mse}}}, out)
"""


def _rows(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        features = [rng.uniform(0, 1) for _ in range(4)]
        label = 3 * features[0] + 2 * features[1] - features[2] + rng.gauss(0, 0.05)
        lines.append(",".join(f"{v:.5f}" for v in (label, *features)))
    return ("\n".join(lines) + "\n").encode()


FILES = {
    f"{PREFIX}/data/train/train.csv": _rows(300, 1),
    f"{PREFIX}/data/validation/validation.csv": _rows(100, 2),
    f"{PREFIX}/data/test/test.csv": _rows(100, 3),
    f"{PREFIX}/code/evaluate.py": EVALUATE.encode(),
    # Features only, as a batch to score (the abalone example's batch file).
    f"{PREFIX}/data/batch/batch.csv": b"".join(
        line.split(b",", 1)[1] + b"\n" for line in _rows(20, 4).splitlines()
    ),
}


def _abalone(
    session: Any, hyperparameters: dict[str, Any] | None = None, content_type: str = "text/csv"
) -> Pipeline:
    threshold = ParameterFloat(name="RmseThreshold", default_value=0.5)
    approval = ParameterString(name="ModelApprovalStatus", default_value="Approved")
    estimator = Estimator(
        image_uri=XGBOOST,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        output_path=f"{PREFIX}/model",
        sagemaker_session=session,
    )
    estimator.set_hyperparameters(
        **(
            hyperparameters
            or {"objective": "reg:squarederror", "num_round": 30, "max_depth": 3, "eta": 0.3}
        )
    )
    train = TrainingStep(
        name="TrainAbalone",
        step_args=estimator.fit(
            {
                "train": TrainingInput(f"{PREFIX}/data/train", content_type=content_type),
                "validation": TrainingInput(f"{PREFIX}/data/validation", content_type=content_type),
            }
        ),
    )
    evaluation = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluator = ScriptProcessor(
        image_uri=XGBOOST,
        command=["python3"],
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        sagemaker_session=session,
    )
    evaluate = ProcessingStep(
        name="EvaluateAbalone",
        step_args=evaluator.run(
            code=f"{PREFIX}/code/evaluate.py",
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=f"{PREFIX}/data/test", destination="/opt/ml/processing/test"
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source="/opt/ml/processing/evaluation",
                    destination=f"{PREFIX}/evaluation",
                )
            ],
        ),
        property_files=[evaluation],
    )
    model = Model(
        image_uri=XGBOOST,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=session,
    )
    register = ModelStep(
        name="RegisterAbalone",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name="abalone",
            approval_status=approval,
        ),
    )
    create = ModelStep(name="CreateAbalone", step_args=model.create(instance_type="ml.m5.large"))
    # No content type, as the example's TransformInput has none: the algorithm reads CSV.
    transform = TransformStep(
        name="TransformAbalone",
        step_args=Transformer(
            model_name=create.properties.ModelName,
            instance_type="ml.m5.large",
            instance_count=1,
            output_path=f"{PREFIX}/transform",
            sagemaker_session=session,
        ).transform(data=f"{PREFIX}/data/batch"),
    )
    fail = FailStep(
        name="RmseTooHigh",
        error_message=Join(
            on=" ",
            values=[
                "validation:rmse",
                train.properties.FinalMetricDataList["validation:rmse"].Value,
                "is above",
                threshold,
            ],
        ),
    )
    judge = ConditionStep(
        name="CheckRmse",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=train.properties.FinalMetricDataList["validation:rmse"].Value,
                right=threshold,
            ),
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name,
                    property_file=evaluation,
                    json_path="regression_metrics.mse.value",
                ),
                right=0.25,
            ),
        ],
        if_steps=[register, create, transform],
        else_steps=[fail],
    )
    return Pipeline(
        name="abalone",
        parameters=[threshold, approval],
        steps=[train, evaluate, judge],
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
    )


def _run(tmp_path: Path, pipeline: Pipeline, params: dict[str, Any]) -> tuple[Execution, Path]:
    state = LocalState(tmp_path / "state")
    execution = run_sdk_pipeline(
        state, pipeline, tmp_path, FILES, params, namespace=NAMESPACE, region=REGION
    )
    return execution, state.root


def _training(root: Path, execution: Execution) -> dict[str, Any]:
    return execution.steps["TrainAbalone"].properties


@needs_namespace
def test_xgboost_algorithm_trains_and_its_metric_registers_the_model(tmp_path: Path) -> None:
    with offline_session(REGION, BUCKET) as session:
        execution, root = _run(tmp_path, _abalone(session), {})
    assert execution.status == SUCCEEDED, execution.failure_reason
    training = _training(root, execution)
    metrics = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse"}
    assert 0 < metrics["train:rmse"] < metrics["validation:rmse"] < 0.5
    assert training["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")
    assert execution.steps["RegisterAbalone-RegisterModel"].status == SUCCEEDED
    assert execution.steps["RmseTooHigh"].status == NOT_EXECUTED
    (version,) = registry.versions(LocalState(root), "abalone")
    container = version["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    assert container["Image"] == XGBOOST
    # The pickled Booster scored the batch: one prediction a line, CSV as the algorithm answers.
    state = LocalState(root)
    scores = state.s3_path(f"{PREFIX}/transform/batch.csv.out").read_text().split()
    assert len(scores) == 20 and all(-5 < float(v) < 10 for v in scores)
    # The evaluation script extracted the model into its working folder, which is the job's own.
    assert not (tmp_path / "xgboost-model").exists()


@needs_namespace
def test_xgboost_metric_above_the_threshold_takes_the_fail_branch(tmp_path: Path) -> None:
    with offline_session(REGION, BUCKET) as session:
        execution, _ = _run(tmp_path, _abalone(session), {"RmseThreshold": 0.0001})
    assert execution.status == FAILED
    assert execution.steps["RegisterAbalone-RegisterModel"].status == NOT_EXECUTED
    reason = execution.steps["RmseTooHigh"].failure_reason
    assert reason.startswith("validation:rmse 0.") and reason.endswith(" is above 0.0001")


@pytest.mark.parametrize(
    ("hyperparameters", "content_type", "reason"),
    [
        (
            {"objective": "reg:squarederror"},
            "text/csv",
            "AlgorithmError: Missing required hyperparameter: num_round",
        ),
        (
            {"objective": "reg:squarederror", "num_round": "ten"},
            "text/csv",
            "AlgorithmError: Hyperparameter num_round: 'ten' is not a whole number >= 1",
        ),
        (
            {"objective": "reg:squarederror", "num_round": 2},
            "application/x-parquet",
            "AlgorithmError: Content type application/x-parquet is not supported locally",
        ),
    ],
)
def test_xgboost_algorithm_failures_read_as_the_container_reports_them(
    tmp_path: Path, hyperparameters: dict[str, Any], content_type: str, reason: str
) -> None:
    with offline_session(REGION, BUCKET) as session:
        pipeline = _abalone(session, hyperparameters, content_type)
        execution, _ = _run(tmp_path, pipeline, {})
    assert execution.status == FAILED
    assert execution.steps["TrainAbalone"].failure_reason.startswith(reason)
    assert execution.steps["EvaluateAbalone"].status == NOT_EXECUTED


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            image_uris.retrieve("linear-learner", region=REGION),
            "runs SageMaker's built-in linear-learner algorithm, which has no local stand-in",
        ),
        (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/xgb:2",
            "map it under local.images (e.g. '<registry>/my-xgboost:*': {algorithm: xgboost})",
        ),
    ],
)
def test_an_image_with_no_script_and_no_stand_in_fails_in_one_line(
    tmp_path: Path, image: str, expected: str
) -> None:
    with offline_session(REGION, BUCKET) as session:
        estimator = Estimator(
            image_uri=image,
            role=ROLE,
            instance_count=1,
            instance_type="ml.m5.xlarge",
            output_path=f"{PREFIX}/model",
            sagemaker_session=session,
        )
        step = TrainingStep(
            name="Train", step_args=estimator.fit({"train": f"{PREFIX}/data/train"})
        )
        pipeline = Pipeline(name="abalone", steps=[step], sagemaker_session=session)
        execution, _ = _run(tmp_path, pipeline, {})
    reason = execution.steps["Train"].failure_reason
    assert reason.startswith(f"ClientError: image {image} ") and expected in reason
    assert "\n" not in reason


def test_a_private_copy_of_the_xgboost_image_runs_once_mapped(tmp_path: Path) -> None:
    private = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/xgb:2"
    with offline_session(REGION, BUCKET) as session:
        estimator = Estimator(
            image_uri=private,
            role=ROLE,
            instance_count=1,
            instance_type="ml.m5.xlarge",
            output_path=f"{PREFIX}/model",
            hyperparameters={"num_round": 3, "objective": "reg:squarederror"},
            sagemaker_session=session,
        )
        step = TrainingStep(
            name="Train",
            step_args=estimator.fit(
                {"train": TrainingInput(f"{PREFIX}/data/train", content_type="text/csv")}
            ),
        )
        pipeline = Pipeline(name="abalone", steps=[step], sagemaker_session=session)
        images = ImageMap.from_settings(
            LocalSettings(images={"*/team/xgb:*": LocalImage(algorithm="xgboost")})
        )
        state = LocalState(tmp_path / "state")
        execution = run_sdk_pipeline(
            state, pipeline, tmp_path, FILES, namespace=NAMESPACE, images=images
        )
    assert execution.status == SUCCEEDED, execution.failure_reason
    metrics = execution.steps["Train"].properties["FinalMetricDataList"]
    assert [m["MetricName"] for m in metrics] == ["train:rmse"]
    assert metrics[0]["Value"] > 0
