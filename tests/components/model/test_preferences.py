"""The preference half of the loop: the preferences step turns a trace log's ratings into pairs,
and training runs DPO on them after SFT when there are enough (and says so when not)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.common.job import JobError
from components.train import dpo
from components.train.config import TrainConfig
from tests.components.model.conftest import compiled_step, rows, run_component, write_jsonl

TOPICS = ["caching", "testing", "deployment", "retrieval", "monitoring", "feature stores"]


def pair_rows(count: int) -> list[dict[str, str]]:
    """Pairs in which the chosen answer is always in the author's voice, the rejected one not."""
    return [
        {
            "id": f"p{i}",
            "prompt": f"Write a short note about {TOPICS[i % len(TOPICS)]}.",
            "chosen": f"Here is the thing about {TOPICS[i % len(TOPICS)]}: keep it simple.",
            "rejected": "I cannot help with that request, sorry.",
        }
        for i in range(count)
    ]


def final_metrics(log: str) -> dict[str, float]:
    """The train step's metric definitions applied to a log, last match each, as SageMaker
    reads a training job's metrics."""
    found = {}
    for definition in compiled_step("train")["Arguments"]["AlgorithmSpecification"][
        "MetricDefinitions"
    ]:
        values = re.findall(definition["Regex"], log)
        if values:
            found[definition["Name"]] = float(values[-1])
    return found


def training_root(tmp_path: Path, pairs: list[dict[str, str]] | None) -> Path:
    write_jsonl(tmp_path / "input/data/train/train.jsonl", rows())
    if pairs is not None:
        write_jsonl(tmp_path / "input/data/preferences/preferences.jsonl", pairs)
    return tmp_path


def train(root: Path, tiny_base: Path, **values: Any) -> tuple[dict[str, Any], str]:
    hps = {"max_steps": 2, "learning_rate": 0.02, "lora_rank": 4, "batch_size": 4, **values}
    done = run_component(
        "train", root, env={"BASE_MODEL_ID": str(tiny_base), "SM_HPS": json.dumps(hps)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / "model/training_report.json").read_text()), done.stdout


def test_dpo_stage_moves_its_loss_on_a_tiny_fixture(tmp_path: Path, tiny_base: Path) -> None:
    root = training_root(tmp_path, pair_rows(6))
    report, stdout = train(
        root,
        tiny_base,
        preference_min_pairs=4,
        dpo_max_steps=8,
        dpo_learning_rate=0.01,
        dpo_beta=0.5,
    )
    preference = report["preference"]
    assert preference["ran"] is True, preference
    assert preference["pairs"] == 6 and preference["steps"] == 8
    # Before the first step the policy is its reference (the SFT model): DPO loss ln 2.
    assert preference["loss_before"] == pytest.approx(0.6931, abs=1e-3)
    assert preference["loss_after"] < preference["loss_before"] - 0.05, preference
    assert preference["reward_accuracy_after"] > 0.5, preference
    assert "preference stage (DPO) on 6 pair(s)" in stdout
    # The job's metric definitions read the pairs and the final DPO loss off its log, as
    # SageMaker does: the run's summary and Studio show them.
    assert final_metrics(stdout)["preference:pairs"] == 6
    assert final_metrics(stdout)["preference:dpo_loss"] == pytest.approx(
        preference["loss_after"], abs=1e-4
    )
    # The saved model is the SFT adapter trained on by DPO; the frozen reference copy is gone.
    saved = (root / "model").iterdir()
    assert not any("ref" in p.name for p in saved)


def test_dpo_stage_is_skipped_below_the_minimum_and_the_report_says_so(
    tmp_path: Path, tiny_base: Path
) -> None:
    root = training_root(tmp_path, pair_rows(3))
    report, stdout = train(root, tiny_base, preference_min_pairs=4)
    preference = report["preference"]
    assert preference["ran"] is False and preference["pairs"] == 3
    assert "fewer than preference_min_pairs 4" in preference["reason"]
    assert "preference stage skipped: 3 preference pair(s)" in stdout
    assert final_metrics(stdout)["preference:pairs"] == 0
    assert "preference:dpo_loss" not in final_metrics(stdout)


def test_pairs_channel_reading_skips_bad_rows(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [*pair_rows(2), {"prompt": "x", "chosen": "same"}])
    (tmp_path / "a.jsonl").open("a").write("not json\n")
    pairs, bad = dpo.read_pairs(tmp_path)
    assert [p["id"] for p in pairs] == ["p0", "p1"] and bad == 2
    assert dpo.read_pairs(tmp_path / "absent") == ([], 0)


def test_preference_hyperparameters_are_checked() -> None:
    assert TrainConfig.from_hyperparameters({"preference_min_pairs": "3"}).preference_min_pairs == 3
    with pytest.raises(JobError, match="preference_min_pairs must be >= 1"):
        TrainConfig.from_hyperparameters({"preference_min_pairs": 0})


def fixture_log(path: Path) -> Path:
    """A trace log as the RAG service and POST /feedback leave it: answers, people's ratings
    (one with a better answer, two answers to one question rated apart) and a monitoring score."""

    def trace(trace_id: str, query: str, answer: str) -> dict[str, Any]:
        return {
            "kind": "trace",
            "id": trace_id,
            "name": "rag",
            "input": {"query": query},
            "output": {"answer": answer},
        }

    def rating(trace_id: str, value: float, **extra: Any) -> dict[str, Any]:
        return {
            "kind": "feedback",
            "trace_id": trace_id,
            "name": "human_rating",
            "value": value,
            "source": "human",
            "time": "2026-11-30T12:00:00+00:00",
            **extra,
        }

    records = [
        trace("t1", "What is caching?", "Caching is hard."),
        trace("t2", "How do I test?", "Tests are good."),
        trace("t3", "how do I  test?", "Write one failing test, then make it pass."),
        rating("t1", 0.0, better_answer="Keep a copy close to where it is read.", reason="vague"),
        rating("t2", 0.2),
        rating("t3", 1.0),
        {"kind": "feedback", "trace_id": "t2", "name": "quality", "value": 0.1, "source": "x"},
    ]
    write_jsonl(path, records)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"torn": \n')
    return path


def test_preferences_step_writes_pairs_from_a_trace_log(tmp_path: Path) -> None:
    log = fixture_log(tmp_path / "state/traces.jsonl")
    root = tmp_path / "job"
    root.mkdir()
    done = run_component("preferences", root, env={"LLM_TWIN_TRACES_FILE": str(log)})
    assert done.returncode == 0, done.stderr
    folder = root / "processing/output/preferences"
    pairs = [json.loads(line) for line in (folder / "preferences.jsonl").read_text().splitlines()]
    by_kind = {p["provenance"]["kind"]: p for p in pairs}
    assert len(pairs) == 2 and set(by_kind) == {"better_answer", "rated_answers"}
    better = by_kind["better_answer"]
    assert (better["prompt"], better["chosen"], better["rejected"]) == (
        "What is caching?",
        "Keep a copy close to where it is read.",
        "Caching is hard.",
    )
    assert better["provenance"]["trace_id"] == "t1"
    rated = by_kind["rated_answers"]
    assert rated["chosen"].startswith("Write one failing test") and rated["rejected"] == (
        "Tests are good."
    )
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["pairs"] == 2 and summary["human_ratings"] == 3
    assert summary["kinds"] == {"better_answer": 1, "rated_answers": 1}
    assert "2 preference pair(s)" in done.stdout
    # Same ratings, same digest: the train step's cache keys on it.
    again = run_component("preferences", root, env={"LLM_TWIN_TRACES_FILE": str(log)})
    assert again.returncode == 0
    assert json.loads((folder / "summary.json").read_text())["digest"] == summary["digest"]


def test_preferences_step_without_any_traces_source_writes_no_pairs(tmp_path: Path) -> None:
    done = run_component("preferences", tmp_path, env={"LLM_TWIN_TRACES_FILE": ""})
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "processing/output/preferences"
    assert (folder / "preferences.jsonl").read_text() == ""
    assert json.loads((folder / "summary.json").read_text())["pairs"] == 0


def test_pipeline_passes_the_pairs_and_their_digest_to_training() -> None:
    train_step = compiled_step("train")["Arguments"]
    channels = {c["ChannelName"]: c for c in train_step["InputDataConfig"]}
    assert set(channels) == {"train", "preferences"}
    assert "Steps.preferences" in json.dumps(channels["preferences"])
    hyper = train_step["HyperParameters"]
    assert "Parameters.PreferenceMinPairs" in json.dumps(hyper["preference_min_pairs"])
    assert "Steps.preferences.PropertyFiles.summary" in json.dumps(hyper["preference_digest"])
    # Uncached, so ratings that arrive while the documents stay the same reach training.
    assert "CacheConfig" not in compiled_step("preferences")


def test_rated_opik_traces_become_trace_and_feedback_records() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from components.preferences.__main__ import opik_records

    rated = {
        "id": "t-1",
        "input": {"query": "q"},
        "output": {"answer": "a"},
        "feedback_scores": [
            {
                "name": "human_rating",
                "value": 0.0,
                "reason": "too long",
                "created_at": "2030-01-01",
            },
            {"name": "quality", "value": 0.9},
        ],
    }
    unrated = {"id": "t-2", "feedback_scores": [{"name": "quality", "value": 0.4}]}
    calls: list[dict[str, Any]] = []

    class FakeOpik:
        def search_traces(self, **kwargs: Any) -> list[Any]:
            calls.append(kwargs)
            return [SimpleNamespace(model_dump=lambda r=r: r) for r in (rated, unrated)]

    records = opik_records(FakeOpik(), "llm-twin-staging", datetime(2030, 1, 1, tzinfo=UTC))
    assert (
        calls[0]["filter_string"] == 'name = "rag" AND start_time >= "2030-01-01T00:00:00.000000Z"'
    )
    assert calls[0]["truncate"] is False
    assert [(r["kind"], r.get("id") or r.get("trace_id")) for r in records] == [
        ("trace", "t-1"),
        ("feedback", "t-1"),
    ]
    assert records[1]["value"] == 0.0 and records[1]["reason"] == "too long"


def test_an_opik_error_is_one_line_naming_the_project() -> None:
    from datetime import UTC, datetime

    from components.preferences.__main__ import opik_records

    class Down:
        def search_traces(self, **kwargs: Any) -> list[Any]:
            raise ConnectionError("refused\nmore detail")

    with pytest.raises(JobError) as failed:
        opik_records(Down(), "llm-twin-staging", datetime(2030, 1, 1, tzinfo=UTC))
    assert str(failed.value) == (
        "cannot read traces from Opik project 'llm-twin-staging': ConnectionError: refused"
    )
