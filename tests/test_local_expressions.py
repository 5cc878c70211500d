"""Expressions and conditions of the local executor, on hand-built values."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_pipelines.local.expressions import (
    ExpressionError,
    Scope,
    evaluate_condition,
    parse_path,
    to_text,
)

PROCESSING = {
    "ProcessingOutputConfig": {
        "Outputs": [
            {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
            {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
        ]
    },
    "ProcessingJobName": "job-1",
}


def _scope(tmp_path: Path, report: str | None = '{"metrics": {"score": 0.8, "list": [1, 2]}}'):
    if report is not None:
        (tmp_path / "evaluation.json").write_text(report)
    return Scope(
        parameters={"Threshold": 0.5, "Name": "ada", "Flag": True, "Count": 3},
        execution={"PipelineExecutionId": "abc123def456"},
        properties={
            "prep": PROCESSING,
            "train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/m/model.tar.gz"}},
            "eval": {},
            "lam": {"OutputParameters": [{"Name": "skip", "Value": "false"}]},
        },
        property_files=lambda step, name, props: tmp_path / "evaluation.json",
    )


def test_parse_path_handles_names_indexes_and_quoted_keys() -> None:
    assert parse_path("ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri") == [
        "ProcessingOutputConfig",
        "Outputs",
        "train",
        "S3Output",
        "S3Uri",
    ]
    assert parse_path('A[0].B["x-y"]') == ["A", 0, "B", "x-y"]
    with pytest.raises(ExpressionError, match="cannot parse"):
        parse_path("A..B!")


def test_get_parameters_execution_and_step_properties(tmp_path: Path) -> None:
    scope = _scope(tmp_path)
    assert scope.evaluate({"Get": "Parameters.Threshold"}) == 0.5
    assert scope.evaluate({"Get": "Execution.PipelineExecutionId"}) == "abc123def456"
    uri = {"Get": "Steps.prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}
    assert scope.evaluate(uri) == "s3://b/test"
    assert scope.evaluate(
        {"Get": "Steps.prep.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"}
    ) == ("s3://b/train")
    assert scope.evaluate({"Get": "Steps.train.ModelArtifacts.S3ModelArtifacts"}).endswith(
        ".tar.gz"
    )


def test_lambda_outputs_resolve_to_their_value(tmp_path: Path) -> None:
    assert _scope(tmp_path).evaluate({"Get": "Steps.lam.OutputParameters['skip']"}) == "false"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("Parameters.Nope", "no parameter 'Nope'"),
        ("Execution.Nope", "no execution variable 'Nope'"),
        ("Steps.ghost.X", "step 'ghost' has not run"),
        ("Steps.prep.ProcessingOutputConfig.Outputs['nope'].S3Output", "no item named 'nope'"),
        ("Steps.prep.Missing", "no 'Missing'"),
        ("Other.X", "unknown root 'Other'"),
    ],
)
def test_get_errors_name_the_target(tmp_path: Path, target: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        _scope(tmp_path).evaluate({"Get": target})


def test_join_renders_values_as_sagemaker_does(tmp_path: Path) -> None:
    scope = _scope(tmp_path)
    joined = scope.evaluate(
        {
            "Std:Join": {
                "On": "/",
                "Values": ["s3://b", {"Get": "Parameters.Count"}, {"Get": "Parameters.Flag"}, 0.25],
            }
        }
    )
    assert joined == "s3://b/3/true/0.25"
    assert to_text(None) == "" and to_text({"a": 1}) == '{"a": 1}'


def test_nested_arguments_are_evaluated_everywhere(tmp_path: Path) -> None:
    scope = _scope(tmp_path)
    value = scope.evaluate(
        {"A": [{"Get": "Parameters.Name"}, "x"], "B": {"C": {"Get": "Parameters.Count"}}}
    )
    assert value == {"A": ["ada", "x"], "B": {"C": 3}}


def test_json_get_both_forms(tmp_path: Path) -> None:
    scope = _scope(tmp_path)
    modern = {"PropertyFile": {"Get": "Steps.eval.PropertyFiles.report"}, "Path": "metrics.score"}
    legacy = {"PropertyFile": "report", "StepName": "eval", "Path": "metrics.list[1]"}
    assert scope.evaluate({"Std:JsonGet": modern}) == 0.8
    assert scope.evaluate({"Std:JsonGet": legacy}) == 2


def test_json_get_missing_path_names_file_step_and_path(tmp_path: Path) -> None:
    body = {"PropertyFile": {"Get": "Steps.eval.PropertyFiles.report"}, "Path": "metrics.nope"}
    with pytest.raises(ExpressionError) as caught:
        _scope(tmp_path).evaluate({"Std:JsonGet": body})
    assert "property file 'report' of step 'eval', path 'metrics.nope'" in str(caught.value)


def test_corrupt_property_file_is_a_clear_error(tmp_path: Path) -> None:
    body = {"PropertyFile": {"Get": "Steps.eval.PropertyFiles.report"}, "Path": "metrics.score"}
    with pytest.raises(ExpressionError) as caught:
        _scope(tmp_path, report="{not json").evaluate({"Std:JsonGet": body})
    message = str(caught.value)
    assert "property file 'report' of step 'eval'" in message
    assert str(tmp_path / "evaluation.json") in message and "is not valid JSON" in message


def _compare(kind: str, left: object, right: object, tmp_path: Path) -> bool:
    return evaluate_condition(
        {"Type": kind, "LeftValue": left, "RightValue": right}, _scope(tmp_path)
    )


@pytest.mark.parametrize(
    ("kind", "left", "right", "expected"),
    [
        ("Equals", 1, 1.0, True),
        ("Equals", "a", "b", False),
        ("NotEquals", "a", "b", True),
        ("GreaterThan", 0.8, {"Get": "Parameters.Threshold"}, True),
        ("GreaterThan", 0.5, {"Get": "Parameters.Threshold"}, False),
        ("GreaterThanOrEqualTo", 0.5, {"Get": "Parameters.Threshold"}, True),
        ("LessThan", "0.4", 0.5, True),  # numeric text from a JSON file compares as a number
        ("LessThanOrEqualTo", 0.6, 0.5, False),
        ("Equals", {"Get": "Parameters.Name"}, "ada", True),
    ],
)
def test_comparisons(
    kind: str, left: object, right: object, expected: bool, tmp_path: Path
) -> None:
    assert _compare(kind, left, right, tmp_path) is expected


def test_in_not_or(tmp_path: Path) -> None:
    scope = _scope(tmp_path)
    is_in = {"Type": "In", "QueryValue": {"Get": "Parameters.Count"}, "Values": [1, "3"]}
    assert evaluate_condition(is_in, scope) is True
    assert evaluate_condition({"Type": "Not", "Expression": is_in}, scope) is False
    never = {"Type": "Equals", "LeftValue": 1, "RightValue": 2}
    assert evaluate_condition({"Type": "Or", "Conditions": [never, is_in]}, scope) is True
    assert evaluate_condition({"Type": "Or", "Conditions": [never, never]}, scope) is False


def test_bad_conditions(tmp_path: Path) -> None:
    with pytest.raises(ExpressionError, match="unknown condition type 'Between'"):
        evaluate_condition({"Type": "Between"}, _scope(tmp_path))
    with pytest.raises(ExpressionError, match="cannot compare"):
        _compare("GreaterThan", "abc", 1, tmp_path)
