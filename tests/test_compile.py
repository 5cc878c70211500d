"""Compiling: byte-identical output across processes, zero network, stale/orphan detection."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sm_pipelines.cli import main
from sm_pipelines.compile.compiler import compile_environment
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.definition.document import all_steps

ROOT = Path(__file__).resolve().parents[1]


def _build_in_subprocess(project: Path) -> dict[str, bytes]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sm_pipelines",
            "--definitions",
            str(project / "definitions"),
            "build",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    compiled = project / "definitions/compiled"
    return {str(p.relative_to(compiled)): p.read_bytes() for p in sorted(compiled.rglob("*.json"))}


def test_two_builds_in_separate_processes_give_identical_bytes(tmp_path: Path) -> None:
    outputs = []
    for name in ("first", "second"):
        copy = tmp_path / name
        shutil.copytree(
            ROOT / "definitions", copy / "definitions", ignore=shutil.ignore_patterns("compiled")
        )
        shutil.copytree(
            ROOT / "components", copy / "components", ignore=shutil.ignore_patterns("__pycache__")
        )
        outputs.append(_build_in_subprocess(copy))
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {
        f"{env}/{pipeline}.json"
        for env in ("local", "production", "staging")
        for pipeline in ("llm-twin-ct", "llm-twin-deploy", "llm-twin-monitoring")
    }


def test_committed_definitions_are_what_the_build_produces() -> None:
    definitions = load_definitions(ROOT / "definitions")
    for env in definitions.environments:
        for compiled in compile_environment(definitions, env):
            assert (
                compiled.path(definitions.root).read_text(encoding="utf-8") == compiled.definition
            )


def test_compiling_opens_no_socket(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network is forbidden while compiling")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    definitions = load_definitions(project / "definitions")
    for env in definitions.environments:
        assert compile_environment(definitions, env)
    assert attempts == []


def test_build_check_fails_on_stale_and_orphaned_definitions(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definitions = str(project / "definitions")
    assert main(["--definitions", definitions, "build", "--check"]) == 0
    capsys.readouterr()

    pipeline_yaml = project / "definitions/pipelines/llm-twin-ct.yaml"
    text = pipeline_yaml.read_text(encoding="utf-8")
    pipeline_yaml.write_text(text.replace("default: 0.2\n", "default: 0.4\n"), "utf-8")
    orphan = project / "definitions/compiled/staging/retired-pipeline.json"
    orphan.write_text("{}", encoding="utf-8")
    assert main(["--definitions", definitions, "build", "--check"]) == 1
    captured = capsys.readouterr()
    assert "    stale  " in captured.out
    assert "orphaned" in captured.out and "retired-pipeline.json" in captured.out
    assert "out of date" in captured.err

    assert main(["--definitions", definitions, "build"]) == 0
    assert not orphan.exists()
    assert main(["--definitions", definitions, "build", "--check"]) == 0


def test_changing_component_code_changes_the_definition(project: Path) -> None:
    before = compile_environment(load_definitions(project / "definitions"), "staging")[0]
    module = project / "components/etl/__main__.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    after = compile_environment(load_definitions(project / "definitions"), "staging")[0]
    assert before.code.digest != after.code.digest
    assert after.code.digest in after.definition
    assert before.code.digest not in after.definition


def test_definition_carries_no_secret_values_only_references() -> None:
    text = (ROOT / "definitions/compiled/staging/llm-twin-ct.json").read_text(encoding="utf-8")
    etl = next(s for s in all_steps(json.loads(text)) if s["Name"] == "etl")
    environment = etl["Arguments"]["Environment"]
    assert environment["MONGODB_URI_SECRET"] == "secretsmanager:llm-twin/staging/mongodb#uri"
    assert "MONGODB_URI" not in environment


def test_pipeline_shape_for_studio() -> None:
    definition = json.loads(
        (ROOT / "definitions/compiled/staging/llm-twin-ct.json").read_text(encoding="utf-8")
    )
    steps = {step["Name"]: step for step in all_steps(definition)}
    assert [s["Type"] for s in definition["Steps"]] == ["Lambda", "Condition"]
    guard = definition["Steps"][1]["Arguments"]
    assert [s["Name"] for s in guard["IfSteps"]] == [
        "etl", "features", "dataset", "preferences", "train", "find-champion", "new-candidate"
    ]  # fmt: skip
    assert [s["Name"] for s in guard["ElseSteps"]] == ["skipped-overlap"]
    assert guard["Conditions"][0]["LeftValue"] == {
        "Get": "Steps.overlap-guard.OutputParameters['skip']"
    }
    assert steps["overlap-guard"]["FunctionArn"] == (
        "arn:aws:lambda:eu-west-1:111122223333:function:llm-twin-ct-guard-staging"
    )
    # Evaluation runs only for a model that is not already the champion, and its cache key holds
    # the champion it is compared with.
    new = steps["new-candidate"]["Arguments"]
    assert [s["Name"] for s in new["IfSteps"]] == ["evaluate", "quality-gate"]
    assert new["ElseSteps"] == []
    assert new["Conditions"][0]["LeftValue"] == {
        "Get": "Steps.find-champion.OutputParameters['candidate_is_champion']"
    }
    assert steps["find-champion"]["Arguments"]["candidate_model_data"] == {
        "Get": "Steps.train.ModelArtifacts.S3ModelArtifacts"
    }
    evaluate = steps["evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert evaluate[evaluate.index("--champion") + 1] == {
        "Get": "Steps.find-champion.OutputParameters['champion']"
    }
    # The report's place depends on the candidate/champion pair, never on the execution.
    (report,) = steps["evaluate"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert report["S3Output"]["S3Uri"]["Std:Join"]["Values"][1:] == [
        {"Get": "Steps.find-champion.OutputParameters['evaluation_key']"},
        {"Get": "Parameters.MinAnswerQuality"},
        "evaluation",
    ]
    gate = steps["quality-gate"]["Arguments"]
    assert [s["Type"] for s in gate["IfSteps"]] == ["RegisterModel", "Processing"]
    assert [s["Type"] for s in gate["ElseSteps"]] == ["Fail"]
    condition = gate["Conditions"][0]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "metrics.answer_quality"
    assert condition["RightValue"] == {"Get": "Parameters.MinAnswerQuality"}
    for step in steps.values():
        assert step["DisplayName"] and step["Description"], step["Name"]
    for parameter in definition["Parameters"]:
        assert parameter["Description"], parameter["Name"]
    for name in ("features", "dataset", "train", "evaluate"):
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    for name in ("etl", "features", "dataset", "train", "evaluate"):
        assert steps[name]["RetryPolicies"], name
    register = steps["register-RegisterModel"]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]
    fail_message = steps["quality-gate-failed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert any("answer_quality" in str(value) for value in fail_message)
    assert {"Get": "Parameters.MinAnswerQuality"} in fail_message
