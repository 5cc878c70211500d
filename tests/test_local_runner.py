"""The local executor on hand-built definitions: contracts, DAG, retries, failures, caching."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from sm_pipelines.errors import UserError
from sm_pipelines.events.shapes import EXECUTION_STATUS_CHANGE, STEP_STATUS_CHANGE
from sm_pipelines.local import registry
from sm_pipelines.local.plan import load_definition
from sm_pipelines.local.progress import summary_table
from sm_pipelines.local.state import LocalState
from tests.local_definitions import (
    BUCKET,
    definition,
    output_of,
    processing,
    runner,
    stage_script,
    stage_tarball,
)

WRITE = """
import os, sys, json
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "data.txt"), "w") as f:
    f.write(os.environ.get("GREETING", "") + ":" + ",".join(sys.argv[2:]))
"""
READ = """
import os, sys, glob
src, out = sys.argv[1], sys.argv[2]
text = "".join(open(p).read() for p in sorted(glob.glob(os.path.join(src, "*"))))
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "copy.txt"), "w").write(text.upper())
"""


@pytest.fixture
def state(tmp_path: Path) -> LocalState:
    return LocalState(tmp_path / "state")


def _read(state: LocalState, uri: str) -> str:
    return state.s3_path(uri).read_text()


def test_processing_contract_inputs_outputs_arguments_environment(
    state: LocalState, tmp_path: Path
) -> None:
    stage_script(state, "write.py", WRITE)
    stage_script(state, "read.py", READ)
    steps = [
        processing(
            "make",
            "write.py",
            outputs=["data"],
            args=["/opt/ml/processing/output/data", {"Get": "Parameters.Word"}, "two"],
            env={
                "GREETING": {"Std:Join": {"On": "-", "Values": ["hi", {"Get": "Parameters.Word"}]}}
            },
        ),
        processing(
            "copy",
            "read.py",
            inputs={"src": output_of("make", "data")},
            outputs=["copied"],
            args=["/opt/ml/processing/input/src", "/opt/ml/processing/output/copied"],
        ),
    ]
    text = definition(steps, [{"Name": "Word", "Type": "String", "DefaultValue": "one"}])
    execution = runner(state, text, tmp_path).start({"Word": "uno"})
    assert execution.status == "Succeeded", execution.failure_reason
    assert _read(state, f"{BUCKET}/out/make/data/data.txt") == "hi-uno:uno,two"
    assert _read(state, f"{BUCKET}/out/copy/copied/copy.txt") == "HI-UNO:UNO,TWO"
    make = execution.steps["make"].properties
    assert make["ProcessingJobStatus"] == "Completed"
    assert make["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == (
        f"{BUCKET}/out/make/data"
    )
    log = state.execution_dir(execution.id) / "logs" / "make.log"
    assert "attempt 1" in log.read_text()


def test_processing_without_entrypoint_or_input_fails_clearly(
    state: LocalState, tmp_path: Path
) -> None:
    step = processing("p", "missing.py")
    step["Arguments"]["AppSpecification"].pop("ContainerEntrypoint")
    execution = runner(state, definition([step]), tmp_path).start({})
    assert execution.status == "Failed"
    assert "has no ContainerEntrypoint" in execution.steps["p"].failure_reason

    execution = runner(state, definition([processing("q", "absent.py")]), tmp_path).start({})
    reason = execution.steps["q"].failure_reason
    assert reason.startswith(
        "ClientError: input code: s3://test-bucket/code/absent.py holds nothing"
    )


TRAIN = """
import json, os, sys
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "rows.txt")).read().split()
hps = json.loads(os.environ["SM_HPS"])
assert sys.argv[1:] == ["--epochs", str(hps["epochs"]), "--name", hps["name"]], sys.argv
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.json"), "w") as f:
    json.dump({"rows": len(rows), "epochs": hps["epochs"]}, f)
for step in range(3):
    print(f"step {step} loss={1.0 / (step + 1):.3f}")
"""


def _training_step(channel_uri: object, epochs: object = 2) -> dict:
    return {
        "Name": "train",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {
                "TrainingImage": "local/train:1",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
            },
            "HyperParameters": {
                "epochs": epochs,
                "name": '"tiny"',
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": f'"{BUCKET}/code/source.tar.gz"',
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3Uri": channel_uri, "S3DataType": "S3Prefix"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"{BUCKET}/models"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "Environment": {},
        },
    }


def test_training_contract_channels_hyperparameters_model_and_metrics(
    state: LocalState, tmp_path: Path
) -> None:
    stage_tarball(state, f"{BUCKET}/code/source.tar.gz", {"train.py": TRAIN})
    state.put_bytes(f"{BUCKET}/data/train/rows.txt", b"a b c d")
    execution = runner(state, definition([_training_step(f"{BUCKET}/data/train")]), tmp_path).start(
        {}
    )
    assert execution.status == "Succeeded", execution.failure_reason
    props = execution.steps["train"].properties
    model_uri = props["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"{BUCKET}/models/{props['TrainingJobName']}/output/model.tar.gz"
    with tarfile.open(state.s3_path(model_uri)) as tar:
        weights = json.load(tar.extractfile("weights.json"))
    assert weights == {"rows": 4, "epochs": 2}
    assert props["FinalMetricDataList"] == [{"MetricName": "loss", "Value": pytest.approx(0.333)}]


def test_training_that_saves_no_model_fails(state: LocalState, tmp_path: Path) -> None:
    stage_tarball(state, f"{BUCKET}/code/source.tar.gz", {"train.py": "print('nothing saved')"})
    state.put_bytes(f"{BUCKET}/data/train/rows.txt", b"a")
    execution = runner(state, definition([_training_step(f"{BUCKET}/data/train")]), tmp_path).start(
        {}
    )
    assert execution.steps["train"].failure_reason == (
        "AlgorithmError: the training job saved nothing to /opt/ml/model"
    )


EVALUATE = """
import json, os, sys
os.makedirs(sys.argv[1], exist_ok=True)
report = open(os.path.join(sys.argv[1], "report.json"), "w")
json.dump({"metrics": {"score": float(sys.argv[2])}}, report)
"""


def _gated_pipeline(score: str) -> str:
    evaluate = processing(
        "evaluate",
        "evaluate.py",
        outputs=["report"],
        args=["/opt/ml/processing/output/report", score],
        PropertyFiles=[
            {"PropertyFileName": "report", "OutputName": "report", "FilePath": "report.json"}
        ],
    )
    score_get = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.evaluate.PropertyFiles.report"},
            "Path": "metrics.score",
        }
    }
    register = {
        "Name": "register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": "twins",
            "ModelApprovalStatus": {"Get": "Parameters.Approval"},
            "InferenceSpecification": {
                "Containers": [{"Image": "serve:1", "ModelDataUrl": f"{BUCKET}/code/evaluate.py"}]
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": {
                            "Std:Join": {
                                "On": "/",
                                "Values": [output_of("evaluate", "report"), "report.json"],
                            }
                        },
                    }
                }
            },
            # A reference into the evaluation report, as llm-twin-ct names its Opik experiment.
            "CustomerMetadataProperties": {
                "score": {"Std:Join": {"On": "=", "Values": ["score", score_get]}},
                "source": "gate test",
            },
        },
    }
    notify = {  # the shape the SDK's LambdaStep emits: inputs in Arguments, the rest beside
        "Name": "notify",
        "Type": "Lambda",
        "Arguments": {"arn": {"Get": "Steps.register.ModelPackageArn"}},
        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:notifier",
        "OutputParameters": [{"OutputName": "message", "OutputType": "String"}],
    }
    fail = {
        "Name": "rejected",
        "Type": "Fail",
        "Arguments": {
            "ErrorMessage": {
                "Std:Join": {
                    "On": " ",
                    "Values": ["score", score_get, "below", {"Get": "Parameters.Min"}],
                }
            }
        },
    }
    gate = {
        "Name": "gate",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": score_get,
                    "RightValue": {"Get": "Parameters.Min"},
                }
            ],
            "IfSteps": [register, notify],
            "ElseSteps": [fail],
        },
    }
    parameters = [
        {"Name": "Min", "Type": "Float", "DefaultValue": 0.5},
        {"Name": "Approval", "Type": "String", "DefaultValue": "Approved"},
    ]
    return definition([evaluate, gate], parameters)


def test_condition_true_registers_and_runs_the_lambda(
    state: LocalState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler_dir = tmp_path / "handlers"
    handler_dir.mkdir()
    (handler_dir / "notifier_handler.py").write_text(
        "def handle(event, context):\n    return {'message': 'registered ' + event['arn']}\n"
    )
    monkeypatch.syspath_prepend(str(handler_dir))
    stage_script(state, "evaluate.py", EVALUATE)
    run = runner(
        state, _gated_pipeline("0.9"), tmp_path, lambdas={"notifier": "notifier_handler:handle"}
    )
    execution = run.start({"Min": 0.5, "Approval": "PendingManualApproval"})
    assert execution.status == "Succeeded", execution.failure_reason
    assert execution.steps["gate"].properties == {"Outcome": True}
    assert execution.steps["rejected"].status == "NotExecuted"
    (version,) = registry.versions(state, "twins")
    assert version["ModelApprovalStatus"] == "PendingManualApproval"
    assert version["Metrics"] == {"ModelQuality.Statistics": {"metrics": {"score": 0.9}}}
    assert version["CustomerMetadataProperties"] == {"score": "score=0.9", "source": "gate test"}
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package/twins/1"
    assert execution.steps["notify"].properties["OutputParameters"] == [
        {"Name": "message", "Value": f"registered {arn}"}
    ]
    # The final table says what each branch decided on and what the Lambda answered.
    table = {line.split()[0]: line for line in summary_table(execution).splitlines()[2:]}
    assert table["gate"].endswith("outcome: true")
    assert table["notify"].endswith(f"message=registered {arn}")
    assert table["register"].endswith(arn) and "NotExecuted" in table["rejected"]


def test_the_summary_shows_a_training_jobs_final_metrics() -> None:
    from sm_pipelines.local.execution import Execution, StepRecord

    train = StepRecord(
        "train",
        "Training",
        status="Succeeded",
        properties={
            "FinalMetricDataList": [
                {"MetricName": "train:loss", "Value": 0.5123},
                {"MetricName": "preference:pairs", "Value": 3.0},
            ]
        },
    )
    execution = Execution(
        "x", "p", "us-east-1", "0", "{}", {}, {"train": train}, status="Succeeded"
    )
    (row,) = summary_table(execution).splitlines()[2:]
    assert row.endswith("train:loss=0.5123, preference:pairs=3")


def test_condition_false_fails_with_the_evaluated_message(
    state: LocalState, tmp_path: Path
) -> None:
    stage_script(state, "evaluate.py", EVALUATE)
    execution = runner(state, _gated_pipeline("0.25"), tmp_path).start(
        {"Min": 0.5, "Approval": "Approved"}
    )
    assert execution.status == "Failed"
    assert execution.failure_reason == "score 0.25 below 0.5"
    assert execution.steps["register"].status == "NotExecuted"
    assert execution.steps["notify"].status == "NotExecuted"
    assert registry.versions(state, "twins") == []
    events = [json.loads(line) for line in state.events_file.read_text().splitlines()]
    step_failed = [
        e
        for e in events
        if e["detail-type"] == STEP_STATUS_CHANGE and e["detail"]["currentStepStatus"] == "Failed"
    ]
    assert [e["detail"]["stepName"] for e in step_failed] == ["rejected"]
    assert step_failed[0]["detail"]["failureReason"] == "score 0.25 below 0.5"
    final = [e for e in events if e["detail-type"] == EXECUTION_STATUS_CHANGE][-1]
    assert final["detail"]["currentPipelineExecutionStatus"] == "Failed"
    assert final["source"] == "aws.sagemaker"


def test_lambda_without_a_local_handler_fails_clearly(state: LocalState, tmp_path: Path) -> None:
    stage_script(state, "evaluate.py", EVALUATE)
    execution = runner(state, _gated_pipeline("0.9"), tmp_path).start(
        {"Min": 0.5, "Approval": "Approved"}
    )
    assert execution.steps["notify"].failure_reason.startswith(
        "ClientError: no local handler for Lambda 'notifier'"
    )


FLAKY = """
import os, signal, sys
counter = sys.argv[1]
count = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(count + 1))
if count < int(sys.argv[2]):
    os.kill(os.getpid(), signal.SIGKILL)
print("done after", count + 1, "attempts")
"""


def _flaky_step(counter: Path, failures: int, retry: dict | None) -> dict:
    step = processing("flaky", "flaky.py", args=[str(counter), str(failures)])
    if retry:
        step["RetryPolicies"] = [retry]
    return step


RETRY = {
    "ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR"],
    "IntervalSeconds": 1,
    "BackoffRate": 2.0,
    "MaxAttempts": 3,
}


def test_retry_policy_retries_internal_errors_with_backoff(
    state: LocalState, tmp_path: Path
) -> None:
    stage_script(state, "flaky.py", FLAKY)
    sleeps: list[float] = []
    step = _flaky_step(tmp_path / "count", 2, RETRY)
    execution = runner(state, definition([step]), tmp_path, sleeps).start({})
    assert execution.status == "Succeeded", execution.failure_reason
    assert execution.steps["flaky"].attempts == 3
    assert sleeps == [1.0, 2.0]


def test_retry_policy_gives_up_after_max_attempts(state: LocalState, tmp_path: Path) -> None:
    stage_script(state, "flaky.py", FLAKY)
    step = _flaky_step(tmp_path / "count", 10, {**RETRY, "MaxAttempts": 1})
    execution = runner(state, definition([step]), tmp_path).start({})
    assert execution.steps["flaky"].attempts == 2
    assert "killed by signal 9" in execution.steps["flaky"].failure_reason


def test_algorithm_errors_are_not_retried(state: LocalState, tmp_path: Path) -> None:
    stage_script(state, "boom.py", "raise SystemExit('bad input row 7')")
    step = processing("boom", "boom.py", RetryPolicies=[RETRY])
    execution = runner(state, definition([step]), tmp_path).start({})
    assert execution.steps["boom"].attempts == 1
    assert execution.steps["boom"].failure_reason == "AlgorithmError: exit code 1: bad input row 7"


BROKEN_UNTIL_FIXED = """
import os, sys
if not os.path.exists(sys.argv[1]):
    raise SystemExit("fixture not fixed yet")
os.makedirs(sys.argv[2], exist_ok=True)
open(os.path.join(sys.argv[2], "ok.txt"), "w").write("ok")
"""
COUNT_RUNS = """
import os, sys
path = sys.argv[1]
count = int(open(path).read()) if os.path.exists(path) else 0
open(path, "w").write(str(count + 1))
os.makedirs(sys.argv[2], exist_ok=True)
open(os.path.join(sys.argv[2], "n.txt"), "w").write(str(count + 1))
"""


def test_failed_step_stops_dependants_and_retry_resumes(state: LocalState, tmp_path: Path) -> None:
    stage_script(state, "count.py", COUNT_RUNS)
    stage_script(state, "broken.py", BROKEN_UNTIL_FIXED)
    fix = tmp_path / "fixed"
    steps = [
        processing(
            "first",
            "count.py",
            outputs=["o"],
            args=[str(tmp_path / "first"), "/opt/ml/processing/output/o"],
        ),
        processing(
            "second",
            "broken.py",
            inputs={"x": output_of("first", "o")},
            outputs=["o"],
            args=[str(fix), "/opt/ml/processing/output/o"],
        ),
        processing(
            "third",
            "count.py",
            inputs={"x": output_of("second", "o")},
            outputs=["o"],
            args=[str(tmp_path / "third"), "/opt/ml/processing/output/o"],
        ),
    ]
    run = runner(state, definition(steps), tmp_path)
    execution = run.start({})
    assert execution.status == "Failed"
    assert [execution.steps[n].status for n in ("first", "second", "third")] == [
        "Succeeded",
        "Failed",
        "NotExecuted",
    ]
    assert execution.failure_reason == (
        "Step second failed: AlgorithmError: exit code 1: fixture not fixed yet"
    )
    assert (state.execution_dir(execution.id) / "sandbox/second/attempt-1").is_dir()

    fix.write_text("fixed")
    resumed = run.retry(execution)
    assert resumed.id == execution.id and resumed.status == "Succeeded"
    assert (tmp_path / "first").read_text() == "1"  # not run again
    assert (tmp_path / "third").read_text() == "1"


def test_independent_steps_run_concurrently(state: LocalState, tmp_path: Path) -> None:
    rendezvous = """
import os, sys, time
mine, other = sys.argv[1], sys.argv[2]
open(mine, "w").write("here")
deadline = time.time() + 20
while not os.path.exists(other):
    if time.time() > deadline:
        raise SystemExit("the other step never ran at the same time")
    time.sleep(0.02)
"""
    stage_script(state, "meet.py", rendezvous)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    steps = [
        processing("left", "meet.py", args=[a, b]),
        processing("right", "meet.py", args=[b, a]),
    ]
    execution = runner(state, definition(steps), tmp_path, max_parallel=2).start({})
    assert execution.status == "Succeeded", execution.failure_reason


def test_depends_on_orders_steps_without_data(state: LocalState, tmp_path: Path) -> None:
    stage_script(
        state, "check.py", "import os, sys\nassert os.path.exists(sys.argv[1]), 'ran too early'"
    )
    stage_script(
        state, "mark.py", "import sys, time\ntime.sleep(0.3)\nopen(sys.argv[1], 'w').write('x')"
    )
    marker = str(tmp_path / "marker")
    steps = [
        processing("later", "check.py", args=[marker], DependsOn=["earlier"]),
        processing("earlier", "mark.py", args=[marker]),
    ]
    execution = runner(state, definition(steps), tmp_path, max_parallel=2).start({})
    assert execution.status == "Succeeded", execution.failure_reason


def _cached_chain(tmp_path: Path) -> str:
    cache = {"Enabled": True, "ExpireAfter": "P1D"}
    steps = [
        processing(
            "a",
            "count.py",
            inputs={"raw": f"{BUCKET}/raw/a"},
            outputs=["o"],
            args=[str(tmp_path / "a"), "/opt/ml/processing/output/o"],
            CacheConfig=cache,
        ),
        processing(
            "b",
            "count.py",
            inputs={"raw": f"{BUCKET}/raw/b"},
            outputs=["o"],
            args=[str(tmp_path / "b"), "/opt/ml/processing/output/o"],
            CacheConfig=cache,
        ),
        processing(
            "c",
            "count.py",
            inputs={"from_b": output_of("b", "o")},
            outputs=["o"],
            args=[str(tmp_path / "c"), "/opt/ml/processing/output/o"],
            CacheConfig=cache,
        ),
    ]
    return definition(steps)


def test_unchanged_rerun_hits_the_cache_and_a_changed_input_reruns_its_subtree(
    state: LocalState, tmp_path: Path
) -> None:
    stage_script(state, "count.py", COUNT_RUNS)
    state.put_bytes(f"{BUCKET}/raw/a/x.txt", b"a1")
    state.put_bytes(f"{BUCKET}/raw/b/x.txt", b"b1")
    run = runner(state, _cached_chain(tmp_path), tmp_path)
    first = run.start({})
    assert first.status == "Succeeded", first.failure_reason

    second = run.start({})
    assert {n: s.cache_source for n, s in second.steps.items()} == {
        "a": first.id,
        "b": first.id,
        "c": first.id,
    }
    assert [(tmp_path / n).read_text() for n in "abc"] == ["1", "1", "1"]

    # Same URI, new bytes: the step and what reads it run again; the sibling stays cached.
    state.put_bytes(f"{BUCKET}/raw/b/x.txt", b"b2")
    third = run.start({})
    assert third.steps["a"].cache_source == first.id
    assert third.steps["b"].cache_source is None and third.steps["c"].cache_source is None
    assert [(tmp_path / n).read_text() for n in "abc"] == ["1", "2", "2"]


def test_expired_cache_entry_runs_again(state: LocalState, tmp_path: Path) -> None:
    stage_script(state, "count.py", COUNT_RUNS)
    step = processing(
        "a",
        "count.py",
        outputs=["o"],
        args=[str(tmp_path / "a"), "/opt/ml/processing/output/o"],
        CacheConfig={"Enabled": True, "ExpireAfter": "PT0S"},
    )
    run = runner(state, definition([step]), tmp_path)
    run.start({})
    assert run.start({}).steps["a"].cache_source is None
    assert (tmp_path / "a").read_text() == "2"


def test_parameters_are_typed_and_checked() -> None:
    text = definition(
        [],
        [
            {"Name": "N", "Type": "Integer", "DefaultValue": 1},
            {"Name": "F", "Type": "Float", "DefaultValue": 0.5},
            {"Name": "B", "Type": "Boolean", "DefaultValue": False},
            {"Name": "S", "Type": "String", "DefaultValue": "a", "EnumValues": ["a", "b"]},
            {"Name": "Required", "Type": "String"},
        ],
    )
    parsed = load_definition(text, "t")
    assert parsed.typed_parameters({"N": "7", "F": "2", "B": "TRUE", "Required": "x"}) == {
        "N": 7,
        "F": 2.0,
        "B": True,
        "S": "a",
        "Required": "x",
    }
    for overrides, message in (
        ({"N": "x", "Required": "r"}, "--param N=x: expected integer"),
        ({"S": "c", "Required": "r"}, "--param S=c: expected one of a, b"),
        ({"B": "yes", "Required": "r"}, "--param B=yes: expected boolean"),
        ({}, "parameter Required has no default; pass --param Required=VALUE"),
        ({"Ghost": "1"}, "--param Ghost: no such parameter"),
    ):
        with pytest.raises(UserError, match=message):
            parsed.typed_parameters(overrides)


def test_a_step_type_that_cannot_run_fails_that_step_in_one_line(
    state: LocalState, tmp_path: Path
) -> None:
    text = definition([{"Name": "t", "Type": "EMR", "Arguments": {}}])
    execution = runner(state, text, tmp_path).start({})
    assert execution.status == "Failed"
    assert execution.steps["t"].failure_reason.startswith(
        "ClientError: step t is a EMR step, which cannot run locally (supported: Processing, "
    )


def test_jobs_see_the_local_state_and_extra_environment(state: LocalState, tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "env = os.environ\n"
        "open(sys.argv[1], 'w').write(env['SM_PIPELINES_LOCAL_STATE'] + '|' + env['EXTRA'])"
    )
    stage_script(state, "env.py", script)
    out = tmp_path / "env.txt"
    execution = runner(
        state,
        definition([processing("e", "env.py", args=[str(out)])]),
        tmp_path,
        environment={"EXTRA": "x"},
    ).start({})
    assert execution.status == "Succeeded", execution.failure_reason
    assert out.read_text() == f"{state.root}|x"


def test_models_table_shows_a_versions_own_metrics_before_its_champions(
    state: LocalState,
) -> None:
    report = {
        "metrics": {"answer_quality": 0.41},
        "champion": {"version": 1, "metrics": {f"m{i}": 0.1 for i in range(9)}},
    }
    registry.register(
        state,
        "twins",
        {"ModelApprovalStatus": "Approved", "Metrics": {"ModelQuality.Statistics": report}},
        "us-east-1",
        "000000000000",
    )
    row = registry.models_table(state).splitlines()[1]
    assert "metrics.answer_quality=0.41, champion." in row
