"""PipelineDefinitionConfig(use_custom_job_prefix=True): the processor's and the estimator's
`base_job_name` prefix their jobs' names, and the model artifact lands under the training job's
name. Checks: ProcessingJobName and TrainingJobName start with the prefixes and fit SageMaker's
63 characters; the artifact path holds the training job's name."""

from __future__ import annotations

from typing import Any

from sagemaker.estimator import Estimator
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from tests.corpus._kit import (
    IMAGE,
    MACHINE,
    PREFIX,
    ROLE,
    Case,
    Run,
    code_input,
    pipeline,
    processor,
)
from tests.local_definitions import tarball

SCRIPTS = {"noop.py": "print('prepared')\n"}

TRAIN = """\
import os
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("weights")
"""


def build(session: Any) -> Pipeline:
    prep = ProcessingStep(
        name="Prep",
        step_args=processor(session, "noop.py", base_job_name="nightly-prep").run(
            inputs=[code_input("noop.py")]
        ),
    )
    estimator = Estimator(
        role=ROLE,
        image_uri=IMAGE,
        entry_point="train.py",
        source_dir=f"{PREFIX}/code/prefix-src.tar.gz",
        base_job_name="nightly-train",
        output_path=f"{PREFIX}/models",
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
        **MACHINE,
    )
    train = TrainingStep(name="Train", step_args=estimator.fit(), depends_on=[prep])
    return pipeline(session, [prep, train], custom_job_prefix=True)


def prepare(case: Case) -> None:
    case.put(f"{PREFIX}/code/prefix-src.tar.gz", tarball({"train.py": TRAIN}))


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    processing = run.step("Prep").properties["ProcessingJobName"]
    training = run.step("Train").properties["TrainingJobName"]
    assert processing.startswith("nightly-prep-") and len(processing) <= 63, processing
    assert training.startswith("nightly-train-") and len(training) <= 63, training
    artifact = run.step("Train").properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"{PREFIX}/models/{training}/output/model.tar.gz"
    assert run.s3(artifact).is_file()
