"""Selective execution (`sm-pipelines run --from EXECUTION --steps Transform`, as SageMaker's
SelectiveExecutionConfig): Extract -> Transform -> Load joined by data edges (each reads the
previous step's output property). The chosen step runs again and reads Extract's output from the
reference execution; Extract and Load keep the reference's results and do not run. An unknown
step name is refused in one line. Checks: each step's cache_source, the tokens the jobs wrote,
the parameters kept from the reference, and the refusal."""

from __future__ import annotations

from typing import Any

from sagemaker.processing import ProcessingInput
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import PREFIX, Case, Run, output, pipeline, script_step

SCRIPTS = {
    "stage.py": """\
import os, sys, uuid
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
upstream = os.path.join(ROOT, "input", "upstream", "token.txt")
before = open(upstream).read() if os.path.exists(upstream) else ""
token = f"{sys.argv[1]}:{sys.argv[2]}:{uuid.uuid4().hex[:8]}"
open(os.path.join(ROOT, "stage", "token.txt"), "w").write(before + token + "\\n")
"""
}


def build(session: Any) -> Pipeline:
    day = ParameterString(name="Day", default_value="monday")
    steps: list[Any] = []
    for name in ("Extract", "Transform", "Load"):
        upstream = (
            [
                ProcessingInput(
                    source=steps[-1]
                    .properties.ProcessingOutputConfig.Outputs["stage"]
                    .S3Output.S3Uri,
                    destination="/opt/ml/processing/input/upstream",
                )
            ]
            if steps
            else []
        )
        steps.append(
            script_step(
                session,
                name,
                "stage.py",
                inputs=upstream,
                outputs=[output("stage", f"{PREFIX}/stages/{name}")],
                arguments=[name, day],
            )
        )
    return pipeline(session, steps, parameters=[day])


def _token(run: Run, name: str) -> str:
    return run.text(f"{PREFIX}/stages/{name}/token.txt")


def drive(case: Case) -> Run:
    first = case.run("--param", "Day=tuesday")
    assert first.code == 0, first.why()
    first.notes["tokens"] = {n: _token(first, n) for n in ("Extract", "Transform", "Load")}
    refused = case.cli(*case.run_args("--from", first.execution.id, "--steps", "Nope"))
    assert refused.code == 2, refused
    assert "error: --steps: no step Nope in the pipeline (steps: Extract, Transform, Load)" in (
        refused.err
    )
    second = case.run("--from", first.execution.id, "--steps", "Transform")
    second.notes["tokens"] = {n: _token(second, n) for n in ("Extract", "Transform", "Load")}
    return second


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    (first,) = run.earlier
    before, after = first.notes["tokens"], run.notes["tokens"]
    reference = first.execution.id
    assert run.execution.parameters == {"Day": "tuesday"}  # kept from the reference
    assert run.step("Extract").cache_source == reference
    assert run.step("Load").cache_source == reference
    assert run.step("Transform").cache_source is None
    assert run.step("Transform").attempts == 1
    assert after["Extract"] == before["Extract"] and after["Load"] == before["Load"]
    # Transform ran again, on the reference's Extract output.
    extract, transform = after["Transform"].splitlines()
    assert extract == before["Extract"].strip()
    assert transform.startswith("Transform:tuesday:") and after["Transform"] != before["Transform"]
