"""Retry policies: Flaky's job is killed by SIGKILL on its first two attempts (what SageMaker
reports as JOB_INTERNAL_ERROR); a SageMakerJobStepRetryPolicy (INTERNAL_ERROR, max 3 attempts)
retries it, a StepRetryPolicy (service faults) does not apply. Broken then exits 1, an
AlgorithmError, which no policy retries. The marker folder is a ParameterString set with
`--param`. Checks: attempts (3 and 1), the failure line of Broken, the exit code, and the retry
lines in Flaky's log."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)

from tests.corpus._kit import Case, Run, pipeline, script_step

SCRIPTS = {
    "flaky.py": """\
import os, signal
marker = os.path.join(os.environ["MARKER_DIR"], "flaky-attempts")
count = int(open(marker).read()) + 1 if os.path.exists(marker) else 1
open(marker, "w").write(str(count))
print("attempt", count)
if count < 3:
    os.kill(os.getpid(), signal.SIGKILL)
""",
    "broken.py": """\
import sys
print("loading the model")
sys.exit("model file is corrupt")
""",
}


def _policies() -> list[Any]:
    return [
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
            interval_seconds=1,
            max_attempts=5,
        ),
        SageMakerJobStepRetryPolicy(
            exception_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR],
            interval_seconds=1,
            backoff_rate=1.0,
            max_attempts=3,
        ),
    ]


def build(session: Any) -> Pipeline:
    marker_dir = ParameterString(name="MarkerDir", default_value="/tmp")
    flaky = script_step(
        session, "Flaky", "flaky.py", env={"MARKER_DIR": marker_dir}, retry_policies=_policies()
    )
    broken = script_step(
        session, "Broken", "broken.py", depends_on=[flaky], retry_policies=_policies()
    )
    return pipeline(session, [flaky, broken], parameters=[marker_dir])


def drive(case: Case) -> Run:
    return case.run("--param", f"MarkerDir={case.workdir}")


def expect(run: Run) -> None:
    assert run.code == 1, run.why()
    assert (run.case.workdir / "flaky-attempts").read_text() == "3"
    flaky, broken = run.step("Flaky"), run.step("Broken")
    assert (flaky.status, flaky.attempts) == ("Succeeded", 3)
    assert (broken.status, broken.attempts) == ("Failed", 1)
    assert broken.failure_reason == "AlgorithmError: exit code 1: model file is corrupt"
    assert run.execution.failure_reason and "model file is corrupt" in run.execution.failure_reason
    assert run.log("Flaky").count("===== retry in 1.0 s: InternalServerError") == 2
