"""The pipeline view's JSON API (FastAPI's test client): every endpoint, its 404s, and the
buttons' commands (run, retry, approve, reject), which run the real CLI in a subprocess against
the tiny project of tests/ui_fixture.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sm_pipelines.cli import main
from sm_pipelines.local.state import LocalState
from sm_pipelines.ui.app import create_app
from tests.ui_fixture import GROUP, PIPELINE, STEPS, make_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, LocalState]:
    return make_project(tmp_path)


@pytest.fixture
def client(project: tuple[Path, LocalState]) -> Iterator[TestClient]:
    app = create_app(*project)
    with TestClient(app, base_url="http://127.0.0.1:8765") as test_client:
        yield test_client
    app.state.actions.wait(60)


def finished(client: TestClient, action: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while action["running"]:
        assert time.monotonic() < deadline, f"action still running: {action}"
        time.sleep(0.1)
        action = client.get(f"/api/actions/{action['id']}").json()
    return action


def start(client: TestClient, **parameters: Any) -> dict[str, Any]:
    response = client.post(f"/api/pipelines/{PIPELINE}/runs", json={"parameters": parameters})
    assert response.status_code == 202, response.text
    action = finished(client, response.json())
    assert action["execution"], action
    return action


def test_pipelines_list_the_compiled_ones_with_graph_steps_and_parameters(
    client: TestClient,
) -> None:
    listed = client.get("/api/pipelines").json()
    assert [p["name"] for p in listed["pipelines"]] == [PIPELINE]
    assert listed["pipelines"][0]["steps"] == len(STEPS)
    detail = client.get(f"/api/pipelines/{PIPELINE}").json()
    assert [s["name"] for s in detail["step_list"]] == list(STEPS)
    assert detail["graph"].startswith("flowchart TD")
    for step in detail["step_list"]:
        assert f"    {step['node']}" in detail["graph"]
    assert "quality_gate -->|false| quality_too_low" in detail["graph"]
    train = next(s for s in detail["step_list"] if s["name"] == "train")
    assert train["display_name"] == "Train-model"
    assert train["description"].startswith("Train on the rows")
    assert {p["name"]: p["default"] for p in detail["parameter_list"]} == {
        "PrepareSeconds": 0.2,
        "FailTrain": "no",
        "MinQuality": 0.5,
    }
    assert detail["parameter_list"][1]["description"] == "yes makes train fail."


def test_the_projects_pipelines_show_triggers_and_alert_routes(tmp_path: Path) -> None:
    app = create_app(ROOT / "definitions", LocalState.at(tmp_path))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        detail = client.get("/api/pipelines/llm-twin-ct").json()
    assert detail["display_name"] and detail["description"]
    assert {t["kind"] for t in detail["trigger_list"]} >= {"schedule", "event"}
    assert detail["alert_routes"] and all("topic" in r for r in detail["alert_routes"])
    parameters = {p["name"]: p for p in detail["parameter_list"]}
    assert parameters["MinAnswerQuality"]["description"]


def test_unknown_things_are_404_with_a_message(client: TestClient) -> None:
    for path, words in (
        ("/api/pipelines/nope", "no compiled pipeline 'nope'"),
        ("/api/executions/zzzz", "no execution 'zzzz'"),
        ("/api/executions/zzzz/steps/train", "no execution 'zzzz'"),
        ("/api/actions/abc", "no action 'abc'"),
        ("/api/what", "no API endpoint"),
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert words in response.json()["error"], response.json()
    assert client.post("/api/pipelines/nope/runs", json={}).status_code == 404
    assert client.post("/api/executions/zzzz/retry").status_code == 404


def test_a_run_started_from_the_api_fails_and_its_step_panel_says_why(client: TestClient) -> None:
    action = start(client, FailTrain="yes")
    assert action["exit_code"] == 1 and "loss diverged" in action["output"]
    assert "--param" in action["command"] and "FailTrain=yes" in action["command"]
    execution_id = action["execution"]
    listed = client.get("/api/executions", params={"pipeline": PIPELINE}).json()["executions"]
    assert [e["id"] for e in listed] == [execution_id]
    assert listed[0]["parameters"]["FailTrain"] == "yes" and listed[0]["source"]
    assert client.get("/api/executions", params={"pipeline": "other"}).json()["executions"] == []
    detail = client.get(f"/api/executions/{execution_id}").json()
    assert detail["status"] == "Failed" and "Step train failed" in detail["failure_reason"]
    statuses = {s["name"]: s["status"] for s in detail["steps"]}
    assert statuses["prepare"] == "Succeeded" and statuses["train"] == "Failed"
    assert statuses["evaluate"] != "Succeeded"
    assert detail["graph"].startswith("flowchart TD")
    step = client.get(f"/api/executions/{execution_id}/steps/train").json()
    assert "loss diverged: NaN at epoch 1" in step["failure_reason"]
    assert "epoch 1: loss nan" in step["log_tail"]
    assert step["attempts"] == 1 and step["cache_source"] is None
    assert step["arguments"]["AppSpecification"]["ImageUri"] == "local/image:1"
    prepare = client.get(f"/api/executions/{execution_id}/steps/prepare").json()
    # Evaluated: the parameter's value, not the Get that names it.
    assert prepare["properties"]["AppSpecification"]["ContainerArguments"] == [0.2]
    missing = client.get(f"/api/executions/{execution_id}/steps/nope")
    assert missing.status_code == 404 and "steps: prepare" in missing.json()["error"]


def test_a_run_action_finds_its_own_execution_while_a_terminal_run_races_it(
    client: TestClient, project: tuple[Path, LocalState]
) -> None:
    """The action's execution is the one carrying its description, not the first of the
    pipeline that began after the button was pressed."""
    definitions, state = project
    response = client.post(f"/api/pipelines/{PIPELINE}/runs", json={"parameters": {}})
    assert response.status_code == 202
    # Started in this process while the action's CLI is still importing: it begins first.
    terminal = ["--definitions", str(definitions), "run", PIPELINE, "--local", "--quiet"]
    assert main([*terminal, "--state", str(state.root)]) == 0
    action = finished(client, response.json())
    listed = client.get("/api/executions", params={"pipeline": PIPELINE}).json()["executions"]
    assert len(listed) == 2
    by_id = {e["id"]: e for e in listed}
    ours = by_id[action["execution"]]
    assert ours["description"] == f"sm-pipelines ui action {action['id']}"
    (other,) = [e for e in listed if e["id"] != action["execution"]]
    assert other["description"] == "" and other["start"] < ours["start"]


def test_retry_resumes_a_failed_execution_and_refuses_a_succeeded_one(
    client: TestClient,
) -> None:
    failed = start(client, FailTrain="yes")["execution"]
    before = client.get(f"/api/executions/{failed}").json()["steps"]
    response = client.post(f"/api/executions/{failed}/retry")
    assert response.status_code == 202
    action = finished(client, response.json())
    assert action["execution"] == failed and action["exit_code"] == 1
    after = client.get(f"/api/executions/{failed}").json()["steps"]
    by_name = {s["name"]: s for s in before}
    again = {s["name"]: s for s in after}
    assert again["prepare"]["start"] == by_name["prepare"]["start"]  # kept
    assert again["train"]["start"] > by_name["train"]["start"]  # ran again
    succeeded = start(client)["execution"]
    refused = client.post(f"/api/executions/{succeeded}/retry")
    assert refused.status_code == 409 and "Succeeded" in refused.json()["error"]


def test_a_bad_parameter_is_refused_before_anything_starts(
    client: TestClient, project: tuple[Path, LocalState]
) -> None:
    unknown = client.post(f"/api/pipelines/{PIPELINE}/runs", json={"parameters": {"Nope": "1"}})
    assert unknown.status_code == 422 and "Nope" in unknown.json()["error"]
    typed = client.post(
        f"/api/pipelines/{PIPELINE}/runs", json={"parameters": {"MinQuality": "high"}}
    )
    assert typed.status_code == 422 and "MinQuality" in typed.json()["error"]
    assert not project[1].executions_dir.exists()


def test_property_files_and_monitoring_reports_come_from_a_run(client: TestClient) -> None:
    execution_id = start(client)["execution"]
    detail = client.get(f"/api/executions/{execution_id}").json()
    assert detail["status"] == "Succeeded"
    evaluate = client.get(f"/api/executions/{execution_id}/steps/evaluate").json()
    [report] = evaluate["property_files"]
    assert report["name"] == "report" and report["content"]["metrics"]["quality"] == 0.8
    reports = client.get("/api/monitoring/reports").json()["reports"]
    assert [(r["execution"], r["step"], r["verdict"]) for r in reports] == [
        (execution_id, "evaluate", "ok")
    ]
    assert reports[0]["metrics"] == {"quality": 0.8, "latency_p95_ms": 120.0}


def test_models_list_versions_metrics_and_the_endpoint(client: TestClient) -> None:
    data = client.get("/api/models").json()
    [group] = data["groups"]
    assert group["name"] == GROUP
    assert [(v["version"], v["status"]) for v in group["versions"]] == [
        (1, "Approved"),
        (2, "Rejected"),
        (3, "PendingManualApproval"),
    ]
    assert group["versions"][2]["metrics"]["answer_quality"] == 0.72
    [endpoint] = data["endpoints"]
    assert (endpoint["name"], endpoint["group"], endpoint["version"]) == ("tiny-endpoint", GROUP, 1)
    assert group["endpoints"] == [endpoint]


def test_approve_and_reject_are_the_clis_decisions_with_their_events(
    client: TestClient, project: tuple[Path, LocalState], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SM_PIPELINES_USER", "reviewer")
    response = client.post(f"/api/models/{GROUP}/3/approve", json={"reason": "reads well"})
    assert response.status_code == 202
    action = finished(client, response.json())
    assert action["exit_code"] == 0, action["output"]
    assert action["command"][5:11] == ["models", "approve", GROUP, "3", "--reason", "reads well"]
    rejected = finished(client, client.post(f"/api/models/{GROUP}/1/reject").json())
    assert rejected["exit_code"] == 0, rejected["output"]
    versions = {v["version"]: v for v in client.get("/api/models").json()["groups"][0]["versions"]}
    assert versions[3]["status"] == "Approved" and versions[1]["status"] == "Rejected"
    last = versions[3]["history"][-1]
    assert (last["status"], last["by"], last["reason"]) == ("Approved", "reviewer", "reads well")
    events = [json.loads(line) for line in project[1].events_file.read_text().splitlines()]
    assert [e["detail"]["ModelApprovalStatus"] for e in events] == ["Approved", "Rejected"]
    assert {e["detail-type"] for e in events} == {"SageMaker Model Package State Change"}


def test_decisions_on_unknown_versions_are_404(client: TestClient) -> None:
    unknown_group = client.post("/api/models/nope/1/approve", json={})
    assert unknown_group.status_code == 404 and GROUP in unknown_group.json()["error"]
    unknown_version = client.post(f"/api/models/{GROUP}/9/reject", json={})
    assert (
        unknown_version.status_code == 404
        and "versions: 1, 2, 3" in unknown_version.json()["error"]
    )
    assert client.post(f"/api/models/{GROUP}/1/promote", json={}).status_code == 422


def test_monitoring_traces_with_spans_and_feedback_and_the_alerts_log(
    client: TestClient,
) -> None:
    traces = client.get("/api/monitoring/traces").json()
    [trace] = traces["traces"]  # the half-written last line is skipped
    assert trace["query"] == "How do you ship a model?"
    assert [s["name"] for s in trace["spans"]] == ["embed", "generate"]
    assert trace["feedback"][0]["value"] == 1.0 and trace["feedback"][0]["reason"] == "helpful"
    [alert] = client.get("/api/monitoring/alerts").json()["alerts"]
    assert alert["rule"] == "execution-failed" and alert["message"] == "tiny failed"


def test_the_page_and_its_assets_are_served_from_the_package(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere
    assert client.get("/static/app.js").status_code == 200
    status = client.get("/api/status").json()
    assert status["env"] == "local" and status["state"].endswith("state")


def test_only_loopback_hosts_and_origins_are_answered(
    project: tuple[Path, LocalState],
) -> None:
    app = create_app(*project)
    with TestClient(app, base_url="http://evil.example") as foreign:
        assert foreign.get("/api/pipelines").status_code == 400
    with TestClient(app, base_url="http://localhost:8765") as local:
        assert local.get("/api/pipelines").status_code == 200
        refused = local.post(
            f"/api/models/{GROUP}/3/approve", headers={"Origin": "http://evil.example"}
        )
        assert refused.status_code == 403
    assert project[1].events_file.exists() is False


def test_ui_command_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    definitions = str(ROOT / "definitions")
    missing = tmp_path / "missing"
    assert main(["--definitions", definitions, "ui", "--state", str(missing)]) == 2
    assert "no such folder" in capsys.readouterr().err
    afile = tmp_path / "file"
    afile.write_text("x")
    assert main(["--definitions", definitions, "ui", "--state", str(afile)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["--definitions", definitions, "ui", "--host", "0.0.0.0"]) == 2
    assert "127.0.0.1 only" in capsys.readouterr().err
    monkeypatch.setattr("sm_pipelines.ui.serve.missing_assets", lambda: ["mermaid.min.js"])
    assert main(["--definitions", definitions, "ui", "--state", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "make ui-assets" in err and len(err.strip().splitlines()) == 1
