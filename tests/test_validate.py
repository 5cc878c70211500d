"""Validation of compiled definitions: limits, references, schema, and the listed schema gaps."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from sm_pipelines.cli import main
from sm_pipelines.definition import schema as schema_check
from sm_pipelines.definition.document import all_steps
from sm_pipelines.definition.validate import definition_problems

ROOT = Path(__file__).resolve().parents[1]
COMPILED = sorted((ROOT / "definitions/compiled").glob("*/*.json"))


def _staging() -> dict:
    return json.loads((ROOT / "definitions/compiled/staging/llm-twin-ct.json").read_text())


def _step(definition: dict, name: str) -> dict:
    return next(step for step in all_steps(definition) if step["Name"] == name)


@pytest.mark.parametrize("path", COMPILED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_definitions_have_no_problems(path: Path) -> None:
    assert definition_problems(path.read_text(encoding="utf-8")) == []


def test_every_known_gap_is_needed() -> None:
    """Each listed gap must be exercised by our SDK output, or it is hiding nothing and must go."""
    definitions = [json.loads(p.read_text()) for p in COMPILED]
    for attribute in ("TOP_LEVEL_GAPS", "STEP_GAPS"):
        gaps = getattr(schema_check, attribute)
        for gap in gaps:
            reduced = tuple(g for g in gaps if g != gap)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(schema_check, attribute, reduced)
                found = [p for d in definitions for p in schema_check.schema_problems(d)]
            assert found, f"gap {gap.field} at {gap.path} is never needed"


def test_json_get_outside_known_shape_is_reported() -> None:
    definition = _staging()
    condition = _step(definition, "quality-gate")["Arguments"]["Conditions"][0]
    condition["LeftValue"] = {"Std:JsonGet": {"Path": "metrics.answer_quality"}}
    assert any(
        "Std:JsonGet needs PropertyFile and Path" in p
        for p in definition_problems(json.dumps(definition))
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: _step(d, "etl").update(DisplayName="Ingest sources"),
            "Steps/1/Arguments/IfSteps/0/DisplayName",
        ),
        (
            lambda d: _step(d, "etl")["RetryPolicies"][0].update(MaxAttempts=25),
            "Steps.etl: retry MaxAttempts 25 is over 20",
        ),
        (
            lambda d: _step(d, "features")["Arguments"]["AppSpecification"].update(
                ContainerArguments=["--raw-digest", {"Get": "Steps.nope.PropertyFiles.x"}]
            ),
            "Steps.features: Get 'Steps.nope.PropertyFiles.x' names no step in this definition",
        ),
        (
            lambda d: _step(d, "etl")["Arguments"]["AppSpecification"].update(
                ContainerArguments=[{"Get": "Parameters.Missing"}]
            ),
            "Steps.etl: Get 'Parameters.Missing' names no parameter",
        ),
        (
            lambda d: d["Steps"][1].update(Name="etl"),
            "Steps: step name 'etl' is used more than once",
        ),
        (
            lambda d: _step(d, "etl")["RetryPolicies"][0].update(ExceptionType=["SageMaker.NOPE"]),
            "IfSteps/0/RetryPolicies/0/ExceptionType: 'SageMaker.NOPE' is not one of",
        ),
        (
            lambda d: _step(d, "evaluate")["Arguments"]["ProcessingOutputConfig"]["Outputs"][0][
                "S3Output"
            ].update(S3Uri={"Get": "Execution.PipelineExecutionId"}),
            "Steps.evaluate: CacheConfig is enabled but the arguments use "
            "Execution.PipelineExecutionId, so no run can ever be a cache hit",
        ),
        (lambda d: d["Steps"][0].update(Type="Teleport"), "Steps/0: unknown step Type 'Teleport'"),
        (lambda d: d.update(Version="1999-01-01"), "Version: '1999-01-01' is not one of"),
    ],
)
def test_broken_definitions_are_reported(mutate, expected: str) -> None:
    definition = copy.deepcopy(_staging())
    mutate(definition)
    problems = definition_problems(json.dumps(definition))
    assert any(expected in problem for problem in problems), problems


def test_second_item_of_a_list_gap_is_still_checked() -> None:
    definition = _staging()
    _step(definition, "etl")["RetryPolicies"][0]["ExceptionType"].append("SageMaker.BOGUS")
    assert any(
        "'SageMaker.BOGUS' is not one of" in p for p in definition_problems(json.dumps(definition))
    )


def test_not_json_is_one_problem() -> None:
    assert definition_problems("{not json") == [
        "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"
    ]


def test_validate_command_reports_a_broken_compiled_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "definitions/compiled/staging/llm-twin-ct.json"
    definition = json.loads(path.read_text())
    _step(definition, "etl")["DisplayName"] = "has spaces"
    path.write_text(json.dumps(definition, indent=2))
    assert main(["--definitions", str(project / "definitions"), "validate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].endswith(
        "definitions/compiled/staging/llm-twin-ct.json: Steps/1/Arguments/IfSteps/0/DisplayName: "
        "'has spaces' does not match '^[A-Za-z0-9\\\\-_]{1,64}$'"
    )
