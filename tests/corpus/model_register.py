"""Training (the SDK's PyTorch estimator, script mode), evaluation, then two ModelSteps:
`model.create()` and `model.register()` into a model package group with model metrics from the
evaluation report, customer metadata, a description and an approval status overridden to
Approved (`--param ApprovalStatus=Approved`). Checks: the registry version's fields (status,
the trained artifact as ModelDataUrl, the image, metrics, metadata) and what
`sm-pipelines models` prints; the created model's name."""

from __future__ import annotations

from typing import Any

from sagemaker import image_uris
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput
from sagemaker.pytorch import PyTorch
from sagemaker.workflow.functions import Join
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import TrainingStep

from sm_pipelines.local import registry
from tests.corpus._kit import (
    MACHINE,
    PREFIX,
    REGION,
    ROLE,
    Case,
    Run,
    pipeline,
    script_step,
)
from tests.local_definitions import tarball

GROUP = "corpus-twins"
INFERENCE_IMAGE = image_uris.retrieve(
    "pytorch",
    REGION,
    version="2.1",
    py_version="py310",
    instance_type="ml.m5.large",
    image_scope="inference",
)

TRAIN = """\
import os
open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.txt"), "w").write("0.5")
"""

SCRIPTS = {
    "evaluate.py": """\
import json, os, tarfile
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
with tarfile.open(os.path.join(ROOT, "model", "model.tar.gz")) as tar:
    weight = float(tar.extractfile("weights.txt").read())
report = {"regression_metrics": {"mse": {"value": weight / 2}}}
json.dump(report, open(os.path.join(ROOT, "evaluation", "evaluation.json"), "w"))
"""
}


def build(session: Any) -> Pipeline:
    approval = ParameterString(name="ApprovalStatus", default_value="PendingManualApproval")
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=f"{PREFIX}/code/torch-src.tar.gz",
        framework_version="2.1",
        py_version="py310",
        role=ROLE,
        output_path=f"{PREFIX}/models",
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
        **MACHINE,
    )
    train = TrainingStep(name="Train", step_args=estimator.fit())
    artifact = train.properties.ModelArtifacts.S3ModelArtifacts
    evaluate = script_step(
        session,
        "Evaluate",
        "evaluate.py",
        inputs=[ProcessingInput(source=artifact, destination="/opt/ml/processing/model")],
        outputs=["evaluation"],
    )
    report = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            "evaluation.json",
        ],
    )
    model = Model(
        image_uri=INFERENCE_IMAGE, model_data=artifact, role=ROLE, sagemaker_session=session
    )
    create = ModelStep(name="Make", step_args=model.create(instance_type="ml.m5.large"))
    register = ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["application/json"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=GROUP,
            approval_status=approval,
            description="corpus twin",
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(s3_uri=report, content_type="application/json")
            ),
            customer_metadata_properties={"owner": "corpus", "dataset": "v3"},
        ),
    )
    return pipeline(session, [train, evaluate, create, register], parameters=[approval])


def prepare(case: Case) -> None:
    case.put(f"{PREFIX}/code/torch-src.tar.gz", tarball({"train.py": TRAIN}))


def drive(case: Case) -> Run:
    run = case.run("--param", "ApprovalStatus=Approved")
    run.notes["models"] = case.cli("models")
    return run


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    artifact = run.step("Train").properties["ModelArtifacts"]["S3ModelArtifacts"]
    (version,) = registry.versions(run.state, GROUP)
    assert version["ModelApprovalStatus"] == "Approved"
    assert version["ModelPackageDescription"] == "corpus twin"
    (container,) = version["InferenceSpecification"]["Containers"]
    assert (container["ModelDataUrl"], container["Image"]) == (artifact, INFERENCE_IMAGE)
    assert version["Metrics"] == {
        "ModelQuality.Statistics": {"regression_metrics": {"mse": {"value": 0.25}}}
    }
    assert version["CustomerMetadataProperties"] == {"owner": "corpus", "dataset": "v3"}
    assert version["PipelineExecutionId"] == run.execution.id
    registered = run.step("Register-RegisterModel").properties["ModelPackageArn"]
    assert registered.endswith(f":model-package/{GROUP}/1")
    assert run.step("Make-CreateModel").properties["ModelName"]
    models = run.notes["models"]
    assert models.code == 0
    lines = models.out.splitlines()
    assert lines[0] == GROUP
    assert lines[1].startswith("  v1   Approved ") and run.execution.id in lines[1]
    assert "regression_metrics.mse.value=0.25" in lines[1]
    assert "dataset=v3, owner=corpus" in lines[1]
