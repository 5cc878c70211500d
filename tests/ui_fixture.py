"""A tiny project for the pipeline view's tests: one compiled pipeline (`tiny`) that runs in a
second or two through `sm-pipelines run --local` and fails its `train` step on demand, a model
registry group with three versions and metrics, an endpoint serving one of them, a trace log
with feedback and an alerts log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sm_pipelines.local import registry
from sm_pipelines.local.state import LocalState
from tests.local_definitions import BUCKET, definition, output_of, processing, stage_script

PIPELINE = "tiny"
GROUP = "tiny-models"
STEPS = ("prepare", "train", "evaluate", "quality-gate", "quality-too-low")

PREPARE = """
import pathlib, sys, time
time.sleep(float(sys.argv[1]))
out = pathlib.Path("/opt/ml/processing/output/data")
out.mkdir(parents=True, exist_ok=True)
(out / "rows.txt").write_text("a\\nb\\n")
print("prepared 2 rows")
"""
TRAIN = """
import pathlib, sys
rows = pathlib.Path("/opt/ml/processing/input/data/rows.txt").read_text().split()
print(f"training on {len(rows)} rows")
if sys.argv[1] == "yes":
    print("epoch 1: loss nan")
    sys.exit("loss diverged: NaN at epoch 1")
out = pathlib.Path("/opt/ml/processing/output/model")
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text("weights")
"""
EVALUATE = """
import json, pathlib
out = pathlib.Path("/opt/ml/processing/output/report")
out.mkdir(parents=True, exist_ok=True)
report = {"verdict": "ok", "reason": "every check passed", "traces": 5,
          "metrics": {"quality": 0.8, "latency_p95_ms": 120.0}}
(out / "report.json").write_text(json.dumps(report))
print("quality 0.8")
"""


def tiny_definition() -> str:
    steps: list[dict[str, Any]] = [
        processing(
            "prepare",
            "prepare.py",
            outputs=["data"],
            args=[{"Get": "Parameters.PrepareSeconds"}],
            DisplayName="Prepare-data",
            Description="Write two rows after a pause.",
        ),
        processing(
            "train",
            "train.py",
            inputs={"data": output_of("prepare", "data")},
            outputs=["model"],
            args=[{"Get": "Parameters.FailTrain"}],
            DisplayName="Train-model",
            Description="Train on the rows; fails when FailTrain is yes.",
        ),
        processing(
            "evaluate",
            "evaluate.py",
            inputs={"model": output_of("train", "model")},
            outputs=["report"],
            DisplayName="Evaluate-model",
            Description="Score the model into report.json.",
            PropertyFiles=[
                {"PropertyFileName": "report", "OutputName": "report", "FilePath": "report.json"}
            ],
        ),
        {
            "Name": "quality-gate",
            "Type": "Condition",
            "DisplayName": "Quality-gate",
            "Description": "Quality at least MinQuality.",
            "Arguments": {
                "Conditions": [
                    {
                        "Type": "GreaterThanOrEqualTo",
                        "LeftValue": {
                            "Std:JsonGet": {
                                "PropertyFile": {"Get": "Steps.evaluate.PropertyFiles.report"},
                                "Path": "metrics.quality",
                            }
                        },
                        "RightValue": {"Get": "Parameters.MinQuality"},
                    }
                ],
                "IfSteps": [],
                "ElseSteps": [
                    {
                        "Name": "quality-too-low",
                        "Type": "Fail",
                        "DisplayName": "Quality-too-low",
                        "Description": "Stop: the model is not good enough.",
                        "Arguments": {"ErrorMessage": "quality is below MinQuality"},
                    }
                ],
            },
        },
    ]
    parameters = [
        {
            "Name": "PrepareSeconds",
            "Type": "Float",
            "DefaultValue": 0.2,
            "Description": "How long prepare pauses.",
        },
        {
            "Name": "FailTrain",
            "Type": "String",
            "DefaultValue": "no",
            "Description": "yes makes train fail.",
        },
        {
            "Name": "MinQuality",
            "Type": "Float",
            "DefaultValue": 0.5,
            "Description": "Lowest quality that passes.",
        },
    ]
    return definition(steps, parameters)


def make_project(root: Path) -> tuple[Path, LocalState]:
    """The definitions folder and the state folder of a tiny project under `root`."""
    definitions = root / "definitions"
    compiled = definitions / "compiled" / "local"
    compiled.mkdir(parents=True)
    (compiled / f"{PIPELINE}.json").write_text(tiny_definition(), encoding="utf-8")
    state = LocalState.at(root / "state")
    for name, source in (("prepare.py", PREPARE), ("train.py", TRAIN), ("evaluate.py", EVALUATE)):
        stage_script(state, name, source)
    arns = []
    for number, (quality, status) in enumerate(
        ((0.61, "Approved"), (0.55, "Rejected"), (0.72, "PendingManualApproval")), start=1
    ):
        report = f"{BUCKET}/metrics/{number}.json"
        state.put_bytes(report, json.dumps({"quality": quality}).encode())
        record = registry.register(
            state,
            GROUP,
            {
                "ModelApprovalStatus": status,
                "PipelineExecutionId": f"run{number}",
                "Metrics": {"ModelQuality.Statistics": {"answer_quality": quality, "n": 16}},
            },
            "us-east-1",
            "000000000000",
        )
        arns.append(record["ModelPackageArn"])
    endpoints = state.root / "endpoints"
    endpoints.mkdir()
    (endpoints / "tiny-endpoint.json").write_text(
        json.dumps(
            {
                "EndpointName": "tiny-endpoint",
                "EndpointStatus": "InService",
                "EndpointConfigName": "tiny-endpoint-config-1",
                "ModelPackageArn": arns[0],
                "LastModifiedTime": "2026-11-30T10:00:00+00:00",
                "ConfigHistory": [{"EndpointConfigName": "tiny-endpoint-config-1"}],
            }
        ),
        encoding="utf-8",
    )
    trace = {
        "kind": "trace",
        "id": "trace-1",
        "name": "rag",
        "start_time": "2026-11-30T10:00:00+00:00",
        "end_time": "2026-11-30T10:00:01+00:00",
        "input": {"query": "How do you ship a model?"},
        "output": {"answer": "Blue/green, behind a gate."},
        "metadata": {"latency_ms": 812.5},
        "spans": [
            {
                "id": "s1",
                "parent_span_id": None,
                "name": "embed",
                "type": "general",
                "metadata": {"latency_ms": 12.0},
            },
            {
                "id": "s2",
                "parent_span_id": None,
                "name": "generate",
                "type": "llm",
                "metadata": {"latency_ms": 790.0},
            },
        ],
    }
    feedback = {
        "kind": "feedback",
        "trace_id": "trace-1",
        "name": "human_rating",
        "value": 1.0,
        "source": "human",
        "reason": "helpful",
        "time": "2026-11-30T10:01:00+00:00",
    }
    (state.root / "traces.jsonl").write_text(
        json.dumps(trace) + "\n" + json.dumps(feedback) + "\n" + "{half a line\n",
        encoding="utf-8",
    )
    alert = {
        "time": "2026-11-30T10:02:00+00:00",
        "rule": "execution-failed",
        "topic": "arn:aws:sns:us-east-1:000000000000:alerts",
        "message": "tiny failed",
    }
    (state.root / "alerts.jsonl").write_text(json.dumps(alert) + "\n", encoding="utf-8")
    return definitions, state
