"""ParameterString, ParameterInteger, ParameterFloat and ParameterBoolean, three overridden with
`--param` and one left at its default; the string and numbers reach a job as container arguments
and an environment variable, as text (the Boolean's text in a job is parameter_boolean_text's).
A value that is not of the parameter's type is refused in one line before anything runs.
Checks: what the job wrote, the typed parameters in the execution record, the refusal line and
its exit code."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.parameters import (
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import PREFIX, Case, Run, pipeline, script_step

SCRIPTS = {
    "echo.py": """\
import json, os, sys
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
seen = {"argv": sys.argv[1:], "env": {k: os.environ[k] for k in ("COUNT", "RATE")}}
json.dump(seen, open(os.path.join(ROOT, "echo", "seen.json"), "w"), sort_keys=True)
"""
}


def build(session: Any) -> Pipeline:
    name = ParameterString(name="ModelName", default_value="twin")
    count = ParameterInteger(name="Count", default_value=1)
    rate = ParameterFloat(name="Rate", default_value=0.1)
    enabled = ParameterBoolean(name="Enabled", default_value=False)
    echo = script_step(
        session,
        "Echo",
        "echo.py",
        outputs=["echo"],
        arguments=["--name", name, "--count", count, "--rate", rate],
        env={"COUNT": count, "RATE": rate},
    )
    return pipeline(session, [echo], parameters=[name, count, rate, enabled])


def drive(case: Case) -> Run:
    refused = case.cli(*case.run_args("--param", "Count=seven"))
    assert refused.code == 2, refused
    (line,) = refused.err.splitlines()
    assert line.startswith("error: ") and "Count" in line and "seven" in line, line
    return case.run("--param", "Count=7", "--param", "Rate=0.25", "--param", "Enabled=true")


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.execution.parameters == {
        "ModelName": "twin",
        "Count": 7,
        "Rate": 0.25,
        "Enabled": True,
    }
    assert run.text(f"{PREFIX}/out/echo/seen.json") == (
        '{"argv": ["--name", "twin", "--count", "7", "--rate", "0.25"], '
        '"env": {"COUNT": "7", "RATE": "0.25"}}'
    )
