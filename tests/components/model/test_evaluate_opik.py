"""The evaluation in Opik: the test split as a dataset and candidate and champion as
experiments, checked in the requests the Opik SDK sends to a loopback receiver; and the same
records left locally, by a real evaluation job without Opik."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.common.job import JobError
from components.evaluate import experiments, text_metrics
from components.evaluate.scoring import item_scores
from tests.components.model.conftest import compiled_step, rows, run_component
from tests.components.model.test_evaluate import evaluate_job, evaluation_root, register
from tests.opik_fake import FakeOpik

PAIRS = [
    ("How do you ship a model?", "Blue/green, with the old one kept warm.", "Blue/green, always."),
    ("Why chunk per type?", "Chunk size decides what retrieval can find.", "Size decides it."),
    ("What is a real rollback?", "One you have rehearsed.", "One you rehearsed before."),
]


def scored(answers: list[str]) -> list[dict[str, Any]]:
    """Items as scoring.score returns them, scored with the real metrics."""
    return [
        {
            "instruction": question,
            "reference": reference,
            "generated": answer,
            "scores": item_scores({name: fn(answer, reference) for name, fn in TEXT.items()}, None),
        }
        for (question, reference, _), answer in zip(PAIRS, answers, strict=True)
    ]


TEXT = {
    "rouge_l": text_metrics.rouge_l,
    "token_f1": text_metrics.token_f1,
    "style_similarity": text_metrics.style_similarity,
}


@pytest.fixture
def opik_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OPIK_URL_OVERRIDE", "OPIK_API_KEY", "OPIK_WORKSPACE", "OPIK_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(experiments.REQUIRED_VARIABLE, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPIK_SENTRY_ENABLE", "false")
    monkeypatch.setenv("OPIK_ANALYTICS_ENABLE", "false")
    return tmp_path


def two_experiments() -> tuple[experiments.Dataset, list[experiments.Experiment]]:
    candidate = scored([answer for *_, answer in PAIRS])
    champion = scored([reference for _, reference, _ in PAIRS])
    dataset = experiments.build_dataset(experiments.dataset_name("f" * 64), candidate)
    metrics = {"answer_quality": 0.5, "perplexity": 12.5, "eval_loss": 2.5}
    return dataset, [
        experiments.build_experiment(
            dataset, "candidate", "twin-candidate", {"role": "candidate"}, metrics, candidate
        ),
        experiments.build_experiment(
            dataset, "champion", "twin-champion-v1", {"role": "champion"}, metrics, champion
        ),
    ]


def local_records(folder: Path, name: str) -> list[dict[str, Any]]:
    path = folder / "opik" / name
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_sdk_sends_the_dataset_the_experiments_their_traces_and_scores(
    opik_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset, runs = two_experiments()
    with FakeOpik() as opik:
        monkeypatch.setenv("OPIK_URL_OVERRIDE", opik.api_url)
        monkeypatch.setenv("OPIK_PROJECT_NAME", "twin-eval")
        summary = experiments.record(opik_env / "out", dataset, runs)
    assert summary["destination"].startswith(f"Opik at {opik.api_url}")
    assert summary["dataset"] == {"name": "llm-twin-test-ffffffffffffffff", "items": 3}
    assert summary["experiments"] == {"candidate": runs[0].id, "champion": runs[1].id}

    created = opik.sent("POST", "/datasets")
    assert [body["name"] for body in created] == ["llm-twin-test-ffffffffffffffff"]
    items = [item for body in opik.sent("PUT", "/datasets/items") for item in body["items"]]
    assert [item["data"] for item in items] == [
        {"input": question, "expected_output": reference} for question, reference, _ in PAIRS
    ]
    assert [item["id"] for item in items] == [item["id"] for item in dataset.items]

    made = opik.sent("POST", "/experiments")
    assert [(e["id"], e["name"], e["dataset_name"]) for e in made] == [
        (runs[0].id, "twin-candidate", dataset.name),
        (runs[1].id, "twin-champion-v1", dataset.name),
    ]
    links = [
        (link["experiment_id"], link["dataset_item_id"], link["trace_id"])
        for body in opik.sent("POST", "/experiments/items")
        for link in body["experiment_items"]
    ]
    records = local_records(opik_env / "out", "experiments.jsonl")
    expected = [
        (r["experiment_id"], r["dataset_item_id"], r["trace_id"])
        for r in records
        if r["kind"] == "experiment_item"
    ]
    assert sorted(links) == sorted(expected) and len(links) == 6
    # Candidate and champion answered the same items: Opik compares them item by item.
    by_run = {run.id: {link[1] for link in links if link[0] == run.id} for run in runs}
    assert by_run[runs[0].id] == by_run[runs[1].id] == {item["id"] for item in dataset.items}

    sent_traces = [t for body in opik.sent("POST", "/traces/batch") for t in body["traces"]]
    assert {t["id"] for t in sent_traces} == {link[2] for link in links}
    assert {t["name"] for t in sent_traces} == {"evaluation_task"}
    assert {t["project_name"] for t in sent_traces} == {"twin-eval"}
    scores = [s for body in opik.sent("PUT", "/traces/feedback-scores") for s in body["scores"]]
    assert {s["name"] for s in scores} == {
        "rouge_metric",
        "token_f1",
        "style_similarity",
        "answer_quality",
    }
    # Opik gets the same score per trace as the local record holds.
    local = {
        (r["trace_id"], s["name"]): s["value"]
        for r in records
        if r["kind"] == "experiment_item"
        for s in r["feedback_scores"]
    }
    assert {(s["id"], s["name"]): s["value"] for s in scores} == local
    candidate_trace = next(r for r in records if r.get("experiment_id") == runs[0].id)
    answer, reference = PAIRS[0][2], PAIRS[0][1]
    assert local[(candidate_trace["trace_id"], "rouge_metric")] == round(
        text_metrics.rouge_l(answer, reference), 4
    )
    patched = opik.sent("PATCH", f"/experiments/{runs[0].id}")
    assert patched == [
        {
            "experiment_scores": [
                {"name": "answer_quality", "value": 0.5},
                {"name": "perplexity", "value": 12.5},
                {"name": "eval_loss", "value": 2.5},
            ]
        }
    ]


def test_a_second_evaluation_on_the_same_split_adds_no_dataset_items(
    opik_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpik() as opik:
        monkeypatch.setenv("OPIK_URL_OVERRIDE", opik.api_url)
        dataset, runs = two_experiments()
        experiments.record(opik_env / "first", dataset, runs)
        first_items = len(opik.sent("PUT", "/datasets/items"))
        again, second_runs = two_experiments()
        experiments.record(opik_env / "second", again, second_runs)
    # The SDK read the dataset back, found every item's content hash and sent none again;
    # the new experiments link the items already there, under the same ids.
    assert first_items == 1 and len(opik.sent("PUT", "/datasets/items")) == 1
    assert len(opik.sent("POST", "/datasets/items/stream")) >= 1
    linked = {
        link["dataset_item_id"]
        for body in opik.sent("POST", "/experiments/items")
        for link in body["experiment_items"]
        if link["experiment_id"] in {run.id for run in second_runs}
    }
    assert linked == set(opik.dataset_items[dataset.name]) and len(linked) == 3


def test_opik_refusing_is_one_warning_and_the_local_records_stand(
    opik_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, runs = two_experiments()
    with FakeOpik(refuse={"/datasets"}) as opik:
        monkeypatch.setenv("OPIK_URL_OVERRIDE", opik.api_url)
        summary = experiments.record(opik_env / "out", dataset, runs)
        warning = [line for line in capsys.readouterr().err.splitlines() if "evaluate:" in line]
        assert len(warning) == 1 and "cannot publish to Opik at" in warning[0]
        assert summary["destination"].startswith("local records ")
        assert len(local_records(opik_env / "out", "dataset.jsonl")) == 3
        # Where the environment requires Opik, the same failure ends the job in one line.
        monkeypatch.setenv(experiments.REQUIRED_VARIABLE, "true")
        with pytest.raises(JobError) as caught:
            experiments.record(opik_env / "out", dataset, runs)
    assert "\n" not in str(caught.value) and "cannot publish to Opik" in str(caught.value)


def test_a_local_evaluation_leaves_dataset_and_experiment_records(
    tmp_path: Path, tiny_base: Path, opik_env: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    register(state, tiny_base, "Approved", {"metrics": {"answer_quality": 0.1, "perplexity": 9}})
    root = evaluation_root(tmp_path, tiny_base, rows(3))
    done = evaluate_job(root, state, "--max-new-tokens", "8", "--features-digest", "ab" * 32)
    assert done.returncode == 0, done.stderr
    assert "dataset and experiments go to local records under opik/" in done.stdout
    report = json.loads((root / "processing/output/evaluation/evaluation.json").read_text())
    opik = report["opik"]
    assert opik["dataset"] == {"name": "llm-twin-test-abababababababab", "items": 3}
    assert set(opik["experiments"]) == {"candidate", "champion"}
    assert opik["destination"].startswith("local records ")
    folder = root / "processing/output/evaluation"
    items = local_records(folder, "dataset.jsonl")
    assert [item["input"] for item in items] == [row["instruction"] for row in rows(3)]
    records = local_records(folder, "experiments.jsonl")
    made = {r["role"]: r for r in records if r["kind"] == "experiment"}
    assert {role: r["id"] for role, r in made.items()} == opik["experiments"]
    assert made["champion"]["config"]["version"] == 1
    assert made["candidate"]["scores"]["perplexity"] == report["metrics"]["perplexity"]
    linked = [r for r in records if r["kind"] == "experiment_item"]
    assert len(linked) == 6
    assert {r["dataset_item_id"] for r in linked} == {item["id"] for item in items}
    names = {s["name"] for r in linked for s in r["feedback_scores"]}
    assert names == {"rouge_metric", "token_f1", "style_similarity", "answer_quality"}
    # The registered version names them: the register step's CustomerMetadataProperties read
    # these paths of the report (a JsonGet on a missing path would fail the step in AWS).
    metadata = compiled_step("register-RegisterModel")["Arguments"]["CustomerMetadataProperties"]
    found = {}
    for key, value in metadata.items():
        node: Any = report
        for part in value["Std:JsonGet"]["Path"].split("."):
            node = node[part]
        found[key] = node
    assert found == {
        "opik_dataset": "llm-twin-test-abababababababab",
        "opik_experiment": opik["experiments"]["candidate"],
    }


def test_the_evaluation_job_publishes_to_the_opik_it_is_configured_with(
    tmp_path: Path, tiny_base: Path, opik_env: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    root = evaluation_root(tmp_path, tiny_base, rows(2))
    with FakeOpik() as opik:
        done = run_component(
            "evaluate",
            root,
            "--model-package-group",
            "llm-twin-test",
            "--max-new-tokens",
            "8",
            "--features-digest",
            "cd" * 32,
            env={
                "SM_PIPELINES_LOCAL_STATE": str(state),
                "OPIK_URL_OVERRIDE": opik.api_url,
                experiments.REQUIRED_VARIABLE: "true",
            },
        )
    assert done.returncode == 0, done.stderr
    assert f"dataset and experiments go to Opik at {opik.api_url}" in done.stdout
    report = json.loads((root / "processing/output/evaluation/evaluation.json").read_text())
    published = report["opik"]
    assert published["destination"].startswith(f"Opik at {opik.api_url}")
    assert set(published["experiments"]) == {"candidate"}  # no champion yet
    made = opik.sent("POST", "/experiments")
    assert [(e["id"], e["dataset_name"]) for e in made] == [
        (published["experiments"]["candidate"], "llm-twin-test-cdcdcdcdcdcdcdcd")
    ]
    assert len(opik.dataset_items["llm-twin-test-cdcdcdcdcdcdcdcd"]) == 2
