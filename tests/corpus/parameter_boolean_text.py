"""ParameterBoolean in a job's container arguments and environment: SageMaker substitutes a
Boolean parameter as JSON text (`true`/`false`, as the definition's `"DefaultValue": false` and
the executor's own Std:Join rendering have it), never Python's `True`/`False`. Run with
`--param Enabled=true` and a second Boolean left at its default false. Checks: the job saw
`true` and `false`."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.functions import Join
from sagemaker.workflow.parameters import ParameterBoolean
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import PREFIX, Run, pipeline, script_step

PARAMS = ("--param", "Enabled=true")

SCRIPTS = {
    "flags.py": """\
import json, os, sys
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
seen = {"argv": sys.argv[1:], "env": os.environ["DRY_RUN"]}
json.dump(seen, open(os.path.join(ROOT, "flags", "seen.json"), "w"), sort_keys=True)
"""
}


def build(session: Any) -> Pipeline:
    enabled = ParameterBoolean(name="Enabled", default_value=False)
    dry_run = ParameterBoolean(name="DryRun", default_value=False)
    flags = script_step(
        session,
        "Flags",
        "flags.py",
        outputs=["flags"],
        arguments=["--enabled", enabled, "--joined", Join(on="=", values=["dry", dry_run])],
        env={"DRY_RUN": dry_run},
    )
    return pipeline(session, [flags], parameters=[enabled, dry_run])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.execution.parameters == {"Enabled": True, "DryRun": False}
    assert run.text(f"{PREFIX}/out/flags/seen.json") == (
        '{"argv": ["--enabled", "true", "--joined", "dry=false"], "env": "false"}'
    )
