"""CacheConfig: Prepare is cached (`enable_caching=True, expire_after="PT1H"`), Report is not.
The same definition run twice: the second run takes Prepare from the first (no job runs, its
output keeps the first run's token) and runs Report again; a third run with another parameter
value misses the cache. Checks: cache_source, the output's token across runs, the summary's
`cache hit (from ...)` note, and Report's attempts."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import CacheConfig

from tests.corpus._kit import PREFIX, Case, Run, mark_step, pipeline, script_step

SCRIPTS = {
    "token.py": """\
import os, sys, uuid
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
open(os.path.join(ROOT, "prepared", "token.txt"), "w").write(sys.argv[1] + ":" + uuid.uuid4().hex)
"""
}

TOKEN = f"{PREFIX}/out/prepared/token.txt"


def build(session: Any) -> Pipeline:
    dataset = ParameterString(name="Dataset", default_value="v1")
    prepare = script_step(
        session,
        "Prepare",
        "token.py",
        outputs=["prepared"],
        arguments=[dataset],
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
    )
    report = mark_step(session, "Report", depends_on=[prepare])
    return pipeline(session, [prepare, report], parameters=[dataset])


def drive(case: Case) -> Run:
    tokens = []
    for extra in ((), (), ("--param", "Dataset=v2")):
        run = case.run(*extra)
        assert run.code == 0, run.why()
        tokens.append(run.text(TOKEN))
    run.notes["tokens"] = tokens
    return run


def expect(run: Run) -> None:
    first, second = run.earlier
    third = run
    tokens = run.notes["tokens"]
    assert first.step("Prepare").cache_source is None
    assert second.step("Prepare").cache_source == first.execution.id
    assert f"cache hit (from {first.execution.id})" in second.out
    assert second.log("Prepare") == ""  # no job ran
    assert tokens[0] == tokens[1] and tokens[0].startswith("v1:")
    assert third.step("Prepare").cache_source is None and tokens[2].startswith("v2:")
    for each in (first, second, third):
        assert each.step("Report").cache_source is None and each.ran("Report")
        assert each.step("Report").attempts == 1
