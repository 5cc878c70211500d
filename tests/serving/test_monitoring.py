"""The monitoring job and pipeline: a window of good traces passes, a bad one emits the
quality-drop event (local events.jsonl, or EventBridge in moto) and reaches the alert route."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from components.monitor.__main__ import main as monitor_main
from components.serving.rag.app import create_app
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.events.patterns import matches
from sm_pipelines.events.rules import alert_rules, trigger_rules
from sm_pipelines.local.alerts import AlertRouter
from sm_pipelines.local.state import LocalState

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
CONTEXT = "Run the new version next to the old one, shift traffic in steps, keep the old one."
GOOD = "Run the new version next to the old one and shift traffic in steps."
BAD = "banana banana banana banana banana banana banana"


def trace_record(
    start: datetime,
    answer: str,
    status: int = 200,
    tokens: int = 12,
    latency_ms: float = 120.0,
    query: str = "How do you shift traffic to a new version?",
) -> dict[str, Any]:
    """A trace as the RAG service logs it (the fields the monitor reads)."""
    return {
        "kind": "trace",
        "id": str(uuid.uuid4()),
        "name": "rag",
        "project_name": "llm-twin",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(milliseconds=latency_ms)).isoformat(),
        "input": {"query": query, "author": None, "top_k": 3},
        "output": {"answer": answer, "context": [{"id": "c1", "text": CONTEXT}]},
        "metadata": {
            "status": status,
            "answer_tokens": tokens,
            "latency_ms": {"total": latency_ms},
        },
        "tags": ["llm-twin", "rag"],
        "spans": [],
    }


def write_log(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def window(count: int, answer: str, minutes_ago: int = 30, **fields: Any) -> list[dict]:
    return [
        trace_record(NOW - timedelta(minutes=minutes_ago, seconds=i), answer, **fields)
        for i in range(count)
    ]


def run_monitor(tmp_path: Path, *args: str, end: datetime = NOW) -> dict[str, Any]:
    code = monitor_main(["--window-end", end.isoformat(), *args])
    assert code == 0
    return json.loads((tmp_path / "ml/processing/output/report/report.json").read_text())


def events(state: Path) -> list[dict[str, Any]]:
    path = state / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_services_own_traces_pass(
    make_service: Any, monitor_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = make_service()
    client = TestClient(create_app(service, close_on_shutdown=False))
    for question in ("How do you replace a model?", "Why rehearse rollbacks?", "Chunk size?"):
        assert client.post("/rag", json={"query": question}).status_code == 200
    assert service.tracer.flush(5)
    log = tmp_path / "traces.jsonl"  # where make_service sends traces
    report = run_monitor(
        tmp_path, "--min-traces", "3", end=datetime.now(UTC) + timedelta(minutes=1)
    )
    assert report["traces"] == 3 and report["verdict"] == "ok" and report["quality_ok"] == 1
    assert report["metrics"]["quality"] >= 0.35 and report["metrics"]["error_rate"] == 0
    assert report["source"] == f"local trace log {log}"
    assert not events(monitor_env)
    feedback = [json.loads(x) for x in log.read_text().splitlines() if '"feedback"' in x]
    assert {f["name"] for f in feedback} == {"quality", "groundedness", "relevance", "fluency"}
    assert len(feedback) == 3 * 4


def test_a_bad_window_emits_the_event_and_the_alert(monitor_env: Path, tmp_path: Path) -> None:
    write_log(monitor_env / "traces.jsonl", window(6, BAD) + window(2, "", status=503))
    report = run_monitor(tmp_path, "--execution-id", "exec-1")
    assert report["verdict"] == "quality_drop" and report["quality_ok"] == 0
    # Degenerate answers: no grounding, no relevance, fluency 0.2; two failed requests score 0.
    assert report["reason"].startswith("quality 0.045 is below MinQualityScore 0.35; ")
    assert "error_rate 0.25 is above MaxErrorRate 0.2" in report["reason"]
    [event] = events(monitor_env)
    assert event["source"] == "llm-twin.monitoring"
    assert event["detail-type"] == "LLM Twin Quality Drop"
    assert event["detail"]["execution"] == "exec-1" and event["detail"]["traces"] == 8
    assert report["event"] == {
        "emitted": True,
        "id": event["id"],
        "destination": str(monitor_env / "events.jsonl"),
    }

    definitions = load_definitions(ROOT / "definitions")
    env = definitions.environment("local")
    # The event starts llm-twin-ct through its quality-drop trigger...
    [retrain] = [r for r in trigger_rules(definitions, env) if "quality-drop" in r.name]
    assert retrain.pattern is not None and matches(retrain.pattern, event)
    # ...and the quality-drop alert route turns it into a readable message.
    stream = tmp_path / "alerts.txt"
    with stream.open("w") as out:
        AlertRouter(definitions, env, LocalState(monitor_env), stream=out)(event)
    [alert] = [json.loads(x) for x in (monitor_env / "alerts.jsonl").read_text().splitlines()]
    assert alert["rule"] == "llm-twin-alert-quality-drop-local"
    assert alert["message"].startswith("LLM Twin answer quality dropped in local: quality 0.045")
    assert "8 traces" in alert["message"] and "Monitoring execution: exec-1." in alert["message"]
    assert stream.read_text().startswith("ALERT llm-twin-alert-quality-drop-local: ")


def test_answers_twice_as_long_as_before_are_a_drop(monitor_env: Path, tmp_path: Path) -> None:
    before = window(5, GOOD, minutes_ago=90, tokens=20)
    now = window(5, GOOD, minutes_ago=30, tokens=45)
    write_log(monitor_env / "traces.jsonl", before + now)
    report = run_monitor(tmp_path)
    assert report["metrics"]["quality"] > 0.35
    assert report["previous_traces"] == 5
    assert report["reason"] == "token_drift 1.25 is above MaxTokenDrift 1"
    assert len(events(monitor_env)) == 1


def test_a_few_traces_decide_nothing(monitor_env: Path, tmp_path: Path) -> None:
    write_log(monitor_env / "traces.jsonl", window(2, BAD))
    report = run_monitor(tmp_path)
    assert report["verdict"] == "insufficient_data" and report["quality_ok"] == 1
    assert "fewer than MinTraces 5" in report["reason"]
    assert not events(monitor_env)


def test_with_an_llm_the_opik_judges_score_too(
    monitor_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.serving.test_rag_service import _chat_server

    verdict = {"score": 1.0, "answer_relevance_score": 0.0, "reason": "made up"}
    chat = _chat_server({"": verdict})
    monkeypatch.setenv("LLM_API_BASE", chat.url)
    monkeypatch.setenv("LLM_API_KEY", "test-key")
    write_log(monitor_env / "traces.jsonl", window(5, GOOD))
    try:
        report = run_monitor(tmp_path, "--judge-sample", "2")
    finally:
        chat.stop()
    assert report["judge"] == "gpt-4o-mini"
    assert report["metrics"]["hallucination"] == 1.0
    assert report["metrics"]["answer_relevance"] == 0.0
    # The scores logged back onto the traces carry the Opik metrics' own names.
    logged = monitor_env / "traces.jsonl"
    names = {json.loads(x)["name"] for x in logged.read_text().splitlines() if '"feedback"' in x}
    assert {"hallucination_metric", "answer_relevance_metric", "quality"} <= names
    assert not {"hallucination", "answer_relevance"} & names


def test_in_aws_the_drop_reaches_eventbridge_rules(
    fake_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto import mock_aws

    monkeypatch.delenv("SM_PIPELINES_LOCAL_STATE", raising=False)
    monkeypatch.setenv("SM_ML_ROOT", str(tmp_path / "ml"))
    monkeypatch.setenv("LLM_TWIN_TRACES_FILE", str(write_log(tmp_path / "t.jsonl", window(6, BAD))))
    definitions = load_definitions(ROOT / "definitions")
    env = definitions.environment("staging")
    [retrain] = [r for r in trigger_rules(definitions, env) if "quality-drop" in r.name]
    [alert] = [r for r in alert_rules(definitions, definitions.alerts, env) if "quality" in r.name]
    with mock_aws():
        events_client = boto3.client("events", region_name="eu-west-1")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queues = {}
        # moto delivers to SQS but not to pipelines or SNS: a queue stands in for each target.
        for rule in (retrain, alert):
            url = sqs.create_queue(QueueName=rule.name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            target = {**rule.targets[0].to_aws(), "Arn": arn["Attributes"]["QueueArn"]}
            target.pop("RoleArn", None)
            target.pop("SageMakerPipelineParameters", None)
            events_client.put_rule(Name=rule.name, EventPattern=rule.pattern_json)
            events_client.put_targets(Rule=rule.name, Targets=[target])
            queues[rule.name] = url
        report = run_monitor(tmp_path, "--execution-id", "exec-9")
        received = {
            name: sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]
            for name, url in queues.items()
        }
    assert report["event"]["destination"] == "EventBridge bus default (eu-west-1)"
    delivered = json.loads(received[retrain.name])
    assert delivered["detail-type"] == "LLM Twin Quality Drop"
    assert delivered["detail"]["execution"] == "exec-9"
    message = json.loads(received[alert.name])
    assert message.startswith("LLM Twin answer quality dropped in local: quality 0.06 ")


@pytest.mark.slow
def test_the_monitoring_pipeline_fails_locally_on_a_drop(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from sm_pipelines.cli import main

    monkeypatch.chdir(project)
    for name in ("SM_PIPELINES_STATE", "OPIK_URL_OVERRIDE", "OPIK_API_KEY", "LLM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    state = project / ".sm-local"
    recent = datetime.now(UTC) - timedelta(minutes=5)
    records = [trace_record(recent - timedelta(seconds=i), BAD) for i in range(6)]
    write_log(state / "traces.jsonl", records)
    assert main(["--definitions", "definitions", "run", "llm-twin-monitoring", "--local"]) == 1
    captured = capsys.readouterr()
    assert "Quality drop: quality 0.06 is below MinQualityScore 0.35" in captured.out
    assert "below MinQualityScore 0.35 | quality-drop event" in captured.out
    assert "ALERT llm-twin-alert-execution-failed-local" in captured.err
    kinds = [e["detail-type"] for e in events(state)]
    assert "LLM Twin Quality Drop" in kinds


def test_opik_store_asks_for_the_window_and_logs_scores_back() -> None:
    from types import SimpleNamespace

    from components.monitor.sources import OpikStore, Score

    record = trace_record(NOW - timedelta(minutes=5), GOOD)
    record["start_time"] = NOW - timedelta(minutes=5)  # the SDK gives datetimes

    class FakeOpik:
        config = SimpleNamespace(url_override="http://127.0.0.1:9/api")

        def __init__(self) -> None:
            self.calls: list[tuple[str, Any]] = []

        def search_traces(self, **kwargs: Any) -> list[Any]:
            self.calls.append(("search", kwargs))
            return [SimpleNamespace(model_dump=lambda: record)]

        def log_traces_feedback_scores(self, scores: list[dict]) -> None:
            self.calls.append(("scores", scores))

        def flush(self, timeout: int) -> None:
            self.calls.append(("flush", timeout))

    client = FakeOpik()
    store = OpikStore(client, "llm-twin-staging")
    [found] = store.fetch(NOW - timedelta(hours=1), NOW)
    assert found.id == record["id"] and found.answer == GOOD and found.answer_tokens == 12
    search = client.calls[0][1]
    assert search["project_name"] == "llm-twin-staging"
    assert search["filter_string"] == (
        'name = "rag" AND start_time >= "2030-01-01T11:00:00.000000Z" '
        'AND start_time < "2030-01-01T12:00:00.000000Z"'
    )
    store.log_scores([Score(found.id, "quality", 0.7)])
    assert client.calls[1] == (
        "scores",
        [
            {
                "id": found.id,
                "name": "quality",
                "value": 0.7,
                "reason": None,
                "project_name": "llm-twin-staging",
            }
        ],
    )


def human(record: dict[str, Any], value: float) -> dict[str, Any]:
    """A person's rating of a logged answer, as POST /feedback leaves it in the log."""
    return {
        "kind": "feedback",
        "trace_id": record["id"],
        "name": "human_rating",
        "value": value,
        "source": "human",
        "time": record["start_time"],
    }


def test_human_scores_are_reported_beside_the_automatic_ones_and_a_drop_alerts(
    monitor_env: Path, tmp_path: Path
) -> None:
    before = window(5, GOOD, minutes_ago=90)
    now = window(5, GOOD, minutes_ago=30)
    rated = [human(r, 1.0) for r in before[:4]] + [human(r, 0.8) for r in now[:4]]
    write_log(monitor_env / "traces.jsonl", before + now + rated)
    report = run_monitor(tmp_path)
    metrics = report["metrics"]
    assert (metrics["human_rating"], metrics["human_ratings"]) == (0.8, 4)
    assert (metrics["previous_human_rating"], metrics["previous_human_ratings"]) == (1.0, 4)
    assert metrics["human_rating_drop"] == 0.2 and metrics["quality"] > 0.35
    assert report["verdict"] == "ok" and not events(monitor_env)

    # People rate the same kind of answers down: the automatic scores see nothing, they do.
    later = [human(r, 0.1) for r in now[:4]]  # the latest rating of each answer counts
    write_log(monitor_env / "traces.jsonl", before + now + rated + later)
    report = run_monitor(tmp_path, "--execution-id", "exec-h")
    assert report["metrics"]["human_rating"] == 0.1
    assert report["verdict"] == "quality_drop" and report["quality_ok"] == 0
    assert report["reason"] == "human_rating_drop 0.9 is above MaxHumanRatingDrop 0.2"
    [event] = events(monitor_env)
    assert event["detail"]["metrics"]["human_rating"] == 0.1

    # Too few ratings in a window decide nothing.
    report = run_monitor(tmp_path, "--min-human-ratings", "5")
    assert report["verdict"] == "ok"


def test_opik_traces_carry_their_human_rating() -> None:
    from components.monitor.sources import view

    record = trace_record(NOW, GOOD)
    record["feedback_scores"] = [
        {"name": "quality", "value": 0.7, "source": "sdk"},
        {"name": "human_rating", "value": 0.25, "source": "sdk"},
    ]
    item = view(record)
    assert item is not None and item.human_rating == 0.25
    assert view(trace_record(NOW, GOOD)).human_rating is None  # type: ignore[union-attr]


def test_the_human_rating_thresholds_are_pipeline_parameters(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """People rate answers down while the automatic scores hold: the pipeline's own
    MaxHumanRatingDrop/MinHumanRatings decide, and a run may change them."""
    from sm_pipelines.cli import main

    monkeypatch.chdir(project)
    for name in ("SM_PIPELINES_STATE", "OPIK_URL_OVERRIDE", "OPIK_API_KEY", "LLM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    state = project / ".sm-local"
    now = datetime.now(UTC)
    before = [trace_record(now - timedelta(minutes=90, seconds=i), GOOD) for i in range(5)]
    recent = [trace_record(now - timedelta(minutes=5, seconds=i), GOOD) for i in range(5)]
    ratings = [human(r, 1.0) for r in before[:4]] + [human(r, 0.4) for r in recent[:4]]
    write_log(state / "traces.jsonl", before + recent + ratings)
    run = ["--definitions", "definitions", "run", "llm-twin-monitoring", "--local"]

    assert main(run) == 1
    assert "human_rating_drop 0.6 is above MaxHumanRatingDrop 0.2" in capsys.readouterr().out
    assert main([*run, "--param", "MaxHumanRatingDrop=0.7"]) == 0
    assert main([*run, "--param", "MinHumanRatings=5"]) == 0
