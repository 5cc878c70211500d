"""`sm-pipelines run llm-twin-ct --local` and the commands that inspect local state."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sm_pipelines.cli import main


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    monkeypatch.delenv("SM_PIPELINES_STATE", raising=False)
    return project


def _cli(*args: str) -> int:
    return main(["--definitions", "definitions", *args])


# Both run the real CT pipeline (ETL, embeddings, LoRA training, evaluation on CPU): minutes each,
# so they run under `make test-all`, not in the gate suite.
@pytest.mark.slow
def test_ct_pipeline_runs_locally_then_hits_the_cache(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("run", "llm-twin-ct", "--local", "--quiet") == 0
    first = capsys.readouterr().out
    assert first.startswith("llm-twin-ct ") and " Succeeded in " in first

    assert _cli("run", "llm-twin-ct", "--local") == 0
    table = capsys.readouterr().out
    rows = {line.split()[0]: line for line in table.splitlines() if line.startswith("  ")}
    for step in ("features", "dataset", "train"):
        assert "cache hit" in rows[step], rows[step]
    # The retrained model is the champion itself: nothing to evaluate, register or deploy.
    assert "candidate_is_champion=true" in rows["find-champion"]
    assert "outcome: false" in rows["new-candidate"]
    for step in ("evaluate", "register-RegisterModel", "deploy"):
        assert "NotExecuted" in rows[step], rows[step]
    assert f"state: {in_project / '.sm-local'}" in table

    assert _cli("executions") == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and all("Succeeded" in line for line in listed)
    newest = listed[0].split()[0]

    assert _cli("describe", newest) == 0
    described = capsys.readouterr().out
    assert "ModelApprovalStatus=Approved" in described and "TrainMaxSteps=30" in described

    assert _cli("logs", newest, "etl") == 0
    assert "components.etl --sources data/sample" in capsys.readouterr().out

    assert _cli("models") == 0
    models = capsys.readouterr().out.splitlines()
    assert models[0] == "llm-twin-local"
    assert models[1].lstrip().startswith("v1") and "Approved" in models[1]
    assert "metrics.answer_quality=" in models[1] and "metrics.perplexity=" in models[1]
    assert len(models) == 2  # the re-run registered nothing

    # A deliberately worse model: a learning rate that wrecks the adapter in a few steps.
    worse = ("--param", "LearningRate=5", "--param", "TrainMaxSteps=4")
    assert _cli("run", "llm-twin-ct", "--local", "--quiet", *worse) == 1
    failed = capsys.readouterr().out
    assert "Candidate rejected: " in failed and "is worse than champion v1's" in failed
    assert "metrics.not_worse_than_champion = 0" in failed
    assert _cli("models") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # still only v1

    # The same worse candidate against the same champion: training and evaluation are cache hits.
    assert _cli("run", "llm-twin-ct", "--local", *worse) == 1
    again = {
        line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line[:2] == "  "
    }
    assert "cache hit" in again["train"] and "cache hit" in again["evaluate"]
    assert "Failed" in again["quality-gate-failed"]


@pytest.mark.slow
def test_threshold_override_takes_the_fail_branch(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("run", "llm-twin-ct", "--local", "--quiet", "--param", "MinAnswerQuality=1.5") == 1
    out = capsys.readouterr().out
    assert "Failed" in out
    assert "Candidate rejected: answer_quality " in out
    assert "is below MinAnswerQuality 1.5 | metrics.answer_quality = " in out
    events = [
        json.loads(line)
        for line in (in_project / ".sm-local/events.jsonl").read_text().splitlines()
    ]
    assert events[-1]["detail"]["currentPipelineExecutionStatus"] == "Failed"


def test_stale_code_is_refused(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = in_project / "components/etl/__main__.py"
    module.write_text(module.read_text() + "\n# edited after the last build\n")
    assert _cli("run", "llm-twin-ct", "--local") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the compiled definition runs components/ at ")
    assert err.rstrip().endswith("run `sm-pipelines build` (or `make build`)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "llm-twin-ct"], "only local runs start from here (add --local)"),
        (
            ["run", "nope", "--local"],
            "definitions/compiled/local/nope.json: no compiled definition",
        ),
        (
            ["run", "llm-twin-ct", "--local", "--param", "oops"],
            "--param 'oops': expected Name=Value",
        ),
        (
            ["run", "llm-twin-ct", "--local", "--description", "x" * 3073],
            "--description: 3073 characters; SageMaker allows 3072",
        ),
        (["describe", "zzzzzzzzzzzz"], "no execution 'zzzzzzzzzzzz'"),
        (["retry", "zzzzzzzzzzzz"], "no execution 'zzzzzzzzzzzz'"),
    ],
)
def test_user_mistakes_are_one_line(
    in_project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert _cli(*args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_foreign_definition_file_runs(
    in_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Limit", "Type": "Integer", "DefaultValue": 3}],
        "Steps": [
            {
                "Name": "check",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "LessThan",
                            "LeftValue": {"Get": "Parameters.Limit"},
                            "RightValue": 5,
                        }
                    ],
                    "IfSteps": [],
                    "ElseSteps": [
                        {"Name": "too-big", "Type": "Fail", "Arguments": {"ErrorMessage": "limit"}}
                    ],
                },
            }
        ],
    }
    path = tmp_path / "other.json"
    path.write_text(json.dumps(definition))
    state = str(tmp_path / "state")

    def run(*extra: str) -> int:
        return _cli(
            "run", "--local", "--definition", str(path), "--state", state, "--quiet", *extra
        )

    def descriptions() -> list[str]:
        records = Path(state).glob("executions/*/execution.json")
        return sorted(json.loads(record.read_text())["description"] for record in records)

    assert run() == 0
    assert run("--param", "Limit=9") == 1
    assert "other" in capsys.readouterr().out
    assert os.path.isdir(os.path.join(state, "executions"))
    assert descriptions() == ["", ""]
    assert run("--description", "nightly rehearsal") == 0
    assert descriptions() == ["", "", "nightly rehearsal"]
