"""SDK features as users write them, each in a definition built by the real SageMaker SDK (never
hand-written JSON), run by the local executor with tiny scripts, asserting what can be seen:
the branch taken, a file's content, a registry field, the failure line, the attempts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.inputs import TransformInput
from sagemaker.lambda_helper import Lambda
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.transformer import Transformer
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals, ConditionNot
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.retry import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy
from sagemaker.workflow.steps import ProcessingStep, TransformStep

from sm_pipelines.cli import main
from sm_pipelines.compile.session import offline_session
from sm_pipelines.local import registry
from sm_pipelines.local.execution import FAILED, NOT_EXECUTED, SUCCEEDED, Execution
from sm_pipelines.local.plan import load_definition
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.state import LocalState

BUCKET = "corpus"
PREFIX = f"s3://{BUCKET}/p"
ROLE = "arn:aws:iam::000000000000:role/runner"
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/local:latest"
CODE = "/opt/ml/processing/input/code"


def _processor(session: Any, script: str, **extra: Any) -> Processor:
    return Processor(
        role=ROLE,
        image_uri=IMAGE,
        entrypoint=["python3", f"{CODE}/{script}"],
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=session,
        **extra,
    )


def _code(script: str) -> ProcessingInput:
    return ProcessingInput(input_name="code", source=f"{PREFIX}/code/{script}", destination=CODE)


def _script_step(session: Any, name: str, script: str, outputs: tuple[str, ...] = (), **kw: Any):
    return ProcessingStep(
        name=name,
        step_args=_processor(session, script).run(
            inputs=[_code(script)],
            outputs=[
                ProcessingOutput(
                    output_name=out,
                    source=f"/opt/ml/processing/{out}",
                    destination=f"{PREFIX}/{name}/{out}",
                )
                for out in outputs
            ],
        ),
        **kw,
    )


def _run(
    tmp_path: Path, pipeline: Pipeline, scripts: dict[str, str], **settings: Any
) -> tuple[Execution, LocalState]:
    state = LocalState(tmp_path / "state")
    for name, text in scripts.items():
        state.put_bytes(f"{PREFIX}/code/{name}/{name}", text.encode())
    definition = load_definition(pipeline.definition(), "corpus")
    runner = Runner(
        state,
        definition,
        pipeline.name,
        RunSettings(cwd=tmp_path, sleep=lambda _s: None, **settings),
    )
    return runner.start(definition.typed_parameters({})), state


def _pipeline(name: str, session: Any, steps: list[Any], **kw: Any) -> Pipeline:
    return Pipeline(
        name=name,
        steps=steps,
        sagemaker_session=session,
        pipeline_definition_config=kw.pop(
            "config", PipelineDefinitionConfig(use_custom_job_prefix=False)
        ),
        **kw,
    )


WRITE_FLAG = """\
import json, os
os.makedirs("/opt/ml/processing/out", exist_ok=True) if False else None
out = os.path.join(os.environ["SM_ML_ROOT"], "processing", "out")
json.dump({"flag": os.environ.get("FLAG", "no")}, open(os.path.join(out, "flag.json"), "w"))
"""


@pytest.mark.parametrize(("flag", "branch"), [("yes", "Negated"), ("no", "Plain")])
def test_condition_not_takes_the_right_branch(tmp_path: Path, flag: str, branch: str) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        flag_param = ParameterString(name="Flag", default_value=flag)
        writer = ProcessingStep(
            name="Write",
            step_args=_processor(session, "flag.py", env={"FLAG": flag_param}).run(
                inputs=[_code("flag.py")],
                outputs=[
                    ProcessingOutput(
                        output_name="out",
                        source="/opt/ml/processing/out",
                        destination=f"{PREFIX}/out",
                    )
                ],
            ),
        )
        writer.property_files = [PropertyFile(name="Flag", output_name="out", path="flag.json")]
        read = JsonGet(step_name=writer.name, property_file="Flag", json_path="flag")
        negated = FailStep(name="Negated", error_message="negated")
        plain = FailStep(name="Plain", error_message="plain")
        check = ConditionStep(
            name="IsNotNo",
            conditions=[ConditionNot(expression=ConditionEquals(left=read, right="no"))],
            if_steps=[negated],
            else_steps=[plain],
        )
        pipeline = _pipeline("not-demo", session, [writer, check], parameters=[flag_param])
        assert '"Condition"' in pipeline.definition()
        execution, _ = _run(tmp_path, pipeline, {"flag.py": WRITE_FLAG})
    assert execution.steps["IsNotNo"].properties == {"Outcome": flag == "yes"}
    assert execution.failure_reason == branch.lower()
    other = "Plain" if branch == "Negated" else "Negated"
    assert execution.steps[other].status == NOT_EXECUTED


WRITE_RESULT = """\
import json, os
out = os.path.join(os.environ["SM_ML_ROOT"], "processing", "result")
json.dump({"metrics": {"accuracy": 0.93}}, open(os.path.join(out, "result.json"), "w"))
"""


def test_json_get_with_s3_uri_reads_the_object(tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        writer = _script_step(session, "Write", "result.py", ("result",))
        # As @step return values are read: the object's URI comes from the step's properties.
        written = writer.properties.ProcessingOutputConfig.Outputs["result"].S3Output.S3Uri
        uri = Join(on="/", values=[written, "result.json"])
        accuracy = JsonGet(s3_uri=uri, json_path="metrics.accuracy", step=writer)
        good = FailStep(name="Good", error_message=Join(on=" ", values=["accuracy", accuracy]))
        check = ConditionStep(
            name="Check",
            conditions=[ConditionEquals(left=accuracy, right=0.93)],
            if_steps=[good],
            else_steps=[],
        )
        pipeline = _pipeline("s3-json-get", session, [writer, check])
        assert '"S3Uri"' in pipeline.definition()
        execution, _ = _run(tmp_path, pipeline, {"result.py": WRITE_RESULT})
    assert execution.steps["Check"].properties == {"Outcome": True}
    assert execution.failure_reason == "accuracy 0.93"


def test_json_get_on_an_object_no_step_wrote_names_it(tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        writer = _script_step(session, "Write", "result.py", ("result",))
        uri = Join(on="/", values=[f"{PREFIX}/nowhere", "result.json"])
        value = JsonGet(s3_uri=uri, json_path="a", step=writer)
        check = ConditionStep(
            name="Check", conditions=[ConditionEquals(left=value, right=1)], if_steps=[]
        )
        execution, _ = _run(
            tmp_path, _pipeline("missing", session, [writer, check]), {"result.py": WRITE_RESULT}
        )
    assert execution.steps["Check"].failure_reason == (
        f"ClientError: Std:JsonGet: {PREFIX}/nowhere/result.json does not exist (no step wrote it)"
    )


FLAKY = """\
import os, signal
marker = os.path.join(os.environ["MARKER_DIR"], "attempts")
count = int(open(marker).read()) + 1 if os.path.exists(marker) else 1
open(marker, "w").write(str(count))
if count < 3:
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize(
    ("policy", "attempts", "status"),
    [
        ({"expire_after_mins": 5}, 3, SUCCEEDED),
        ({"max_attempts": 1}, 2, FAILED),
        ({"max_attempts": 5}, 3, SUCCEEDED),
    ],
    ids=["expire-after-mins", "max-attempts-too-few", "max-attempts"],
)
def test_retry_policies_bound_by_attempts_or_minutes(
    tmp_path: Path, policy: dict[str, int], attempts: int, status: str
) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        step = ProcessingStep(
            name="Flaky",
            step_args=_processor(session, "flaky.py", env={"MARKER_DIR": str(tmp_path)}).run(
                inputs=[_code("flaky.py")]
            ),
            retry_policies=[
                SageMakerJobStepRetryPolicy(
                    exception_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR],
                    interval_seconds=1,
                    **policy,
                )
            ],
        )
        execution, _ = _run(tmp_path, _pipeline("retry", session, [step]), {"flaky.py": FLAKY})
    assert (execution.steps["Flaky"].attempts, execution.status) == (attempts, status)


NOTHING = "print('ok')\n"


def test_custom_job_prefixes_name_the_jobs(tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        processor = _processor(session, "ok.py", base_job_name="my-prep")
        step = ProcessingStep(name="Prep", step_args=processor.run(inputs=[_code("ok.py")]))
        pipeline = _pipeline(
            "prefixed",
            session,
            [step],
            config=PipelineDefinitionConfig(use_custom_job_prefix=True),
        )
        execution, _ = _run(tmp_path, pipeline, {"ok.py": NOTHING})
    name = execution.steps["Prep"].properties["ProcessingJobName"]
    assert name.startswith("my-prep-") and len(name) <= 63


PRINT_NAME = """\
import json, os, sys
out = os.path.join(os.environ["SM_ML_ROOT"], "processing", "out")
open(os.path.join(out, "name.txt"), "w").write(sys.argv[1])
"""


@pytest.mark.parametrize(
    ("extra", "expected"), [([], "named-by-file"), (["--name", "chosen"], "chosen")]
)
def test_pipeline_name_comes_from_the_user_or_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], expected: str
) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        step = ProcessingStep(
            name="Name",
            step_args=_processor(session, "name.py").run(
                inputs=[_code("name.py")],
                outputs=[
                    ProcessingOutput(
                        output_name="out",
                        source="/opt/ml/processing/out",
                        destination=f"{PREFIX}/out",
                    )
                ],
                arguments=[ExecutionVariables.PIPELINE_NAME],
            ),
        )
        text = _pipeline("whatever", session, [step]).definition()
    path = tmp_path / "named-by-file.json"
    path.write_text(text, encoding="utf-8")
    state = tmp_path / "state"
    LocalState(state).put_bytes(f"{PREFIX}/code/name.py/name.py", PRINT_NAME.encode())
    monkeypatch.chdir(tmp_path)
    args = ["run", "--local", "--quiet", "--definition", str(path), "--state", str(state)]
    assert main([*args, *extra]) == 0
    assert (state / "s3" / BUCKET / "p/out/name.txt").read_text() == expected


def test_a_step_type_that_cannot_run_is_refused_only_when_it_would_run(tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        transformer = Transformer(
            model_name="m",
            instance_count=1,
            instance_type="ml.m5.large",
            output_path=f"{PREFIX}/out",
            sagemaker_session=session,
        )
        transform = TransformStep(
            name="Score", transformer=transformer, inputs=TransformInput(data=f"{PREFIX}/in")
        )
        skip = ParameterString(name="Mode", default_value="skip")
        gate = ConditionStep(
            name="Gate",
            conditions=[ConditionEquals(left=skip, right="run")],
            if_steps=[transform],
            else_steps=[],
        )
        pipeline = _pipeline("maybe", session, [gate], parameters=[skip])
        execution, _ = _run(tmp_path, pipeline, {})
    assert execution.status == SUCCEEDED
    assert execution.steps["Score"].status == NOT_EXECUTED


def test_the_registry_keeps_every_field_create_model_package_takes(tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        model = Model(
            image_uri=IMAGE,
            model_data=f"{PREFIX}/model.tar.gz",
            role=ROLE,
            sagemaker_session=session,
        )
        baselines = DriftCheckBaselines(
            model_statistics=MetricsSource(
                s3_uri=f"{PREFIX}/baseline.json", content_type="application/json"
            )
        )
        register = ModelStep(
            name="Register",
            step_args=model.register(
                content_types=["application/json"],
                response_types=["application/json"],
                inference_instances=["ml.m5.large"],
                model_package_group_name="corpus-models",
                approval_status="Approved",
                drift_check_baselines=baselines,
                customer_metadata_properties={"team": "ml-platform", "ticket": "ML-42"},
                domain="NATURAL_LANGUAGE_PROCESSING",
                task="TEXT_GENERATION",
            ),
        )
        pipeline = _pipeline("registry-fields", session, [register])
        state = LocalState(tmp_path / "state")
        state.put_bytes(f"{PREFIX}/model.tar.gz", b"model")
        definition = load_definition(pipeline.definition(), "corpus")
        execution = Runner(state, definition, "registry-fields", RunSettings(cwd=tmp_path)).start(
            {}
        )
    assert execution.status == SUCCEEDED, execution.failure_reason
    (version,) = registry.versions(state, "corpus-models")
    assert version["CustomerMetadataProperties"] == {"team": "ml-platform", "ticket": "ML-42"}
    baseline = version["DriftCheckBaselines"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert baseline == f"{PREFIX}/baseline.json"
    assert (version["Domain"], version["Task"]) == (
        "NATURAL_LANGUAGE_PROCESSING",
        "TEXT_GENERATION",
    )
    assert "team=ml-platform" in registry.models_table(state)


HANDLER = """\
def lambda_handler(event, context):
    return {"doubled": event["value"] * 2}
"""


@pytest.mark.parametrize("module", ["score_fn", "lambda_function"])
def test_a_lambda_handler_is_found_beside_the_definition(tmp_path: Path, module: str) -> None:
    (tmp_path / f"{module}.py").write_text(HANDLER, encoding="utf-8")
    with offline_session("us-east-1", BUCKET) as session:
        step = LambdaStep(
            name="Double",
            lambda_func=Lambda(
                function_arn="arn:aws:lambda:us-east-1:000000000000:function:score-fn",
                session=session,
            ),
            inputs={"value": 21},
            outputs=[LambdaOutput(output_name="doubled", output_type=LambdaOutputTypeEnum.Integer)],
        )
        execution, _ = _run(tmp_path, _pipeline("lambda", session, [step]), {})
    assert execution.status == SUCCEEDED, execution.failure_reason
    outputs = execution.steps["Double"].properties["OutputParameters"]
    assert outputs == [{"Name": "doubled", "Value": 42}]


def test_a_lambda_with_no_handler_anywhere_says_where_to_put_one(tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        step = LambdaStep(
            name="Missing",
            lambda_func=Lambda(
                function_arn="arn:aws:lambda:us-east-1:000000000000:function:no-such-fn",
                session=session,
            ),
            inputs={},
        )
        execution, _ = _run(tmp_path, _pipeline("lambda-missing", session, [step]), {})
    assert execution.steps["Missing"].failure_reason.startswith(
        "ClientError: no local handler for Lambda 'no-such-fn': put no_such_fn.py or "
        "lambda_function.py"
    )
    assert json.dumps(execution.parameters) == "{}"


COUNT = """\
import os, sys
marker = os.path.join(os.environ["MARKER_DIR"], sys.argv[1])
count = int(open(marker).read()) + 1 if os.path.exists(marker) else 1
open(marker, "w").write(str(count))
out = os.path.join(os.environ["SM_ML_ROOT"], "processing", "out")
open(os.path.join(out, "count.txt"), "w").write(f"{sys.argv[1]}={count}")
"""


def _counting_pipeline(session: Any, marker_dir: Path) -> Pipeline:
    steps: list[Any] = []
    for name in ("A", "B", "C"):
        step = ProcessingStep(
            name=name,
            step_args=_processor(session, "count.py", env={"MARKER_DIR": str(marker_dir)}).run(
                inputs=[_code("count.py")],
                outputs=[
                    ProcessingOutput(
                        output_name="out",
                        source="/opt/ml/processing/out",
                        destination=f"{PREFIX}/{name}",
                    )
                ],
                arguments=[name],
            ),
            depends_on=steps[-1:] or None,
        )
        steps.append(step)
    return _pipeline("selective", session, steps)


def _latest(state: Path) -> str:
    records = sorted(
        (state / "executions").glob("*/execution.json"), key=lambda p: p.stat().st_mtime
    )
    return records[-1].parent.name


def test_selective_execution_runs_only_the_chosen_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        text = _counting_pipeline(session, tmp_path).definition()
    path = tmp_path / "selective.json"
    path.write_text(text, encoding="utf-8")
    state = tmp_path / "state"
    LocalState(state).put_bytes(f"{PREFIX}/code/count.py/count.py", COUNT.encode())
    monkeypatch.chdir(tmp_path)
    base = ["run", "--local", "--quiet", "--definition", str(path), "--state", str(state)]
    assert main(base) == 0
    first = _latest(state)
    assert main([*base, "--from", first, "--steps", "B"]) == 0
    second = _latest(state)
    counts = {name: (tmp_path / name).read_text() for name in ("A", "B", "C")}
    assert counts == {"A": "1", "B": "2", "C": "1"}
    record = json.loads((state / "executions" / second / "execution.json").read_text())
    assert record["steps"]["A"]["cache_source"] == first
    assert record["steps"]["B"]["cache_source"] is None
    # Without a named pipeline, the reference's own definition runs.
    assert (
        main(["run", "--local", "--quiet", "--state", str(state), "--from", first, "--steps", "C"])
        == 0
    )
    assert (tmp_path / "C").read_text() == "2"
    capsys.readouterr()
    assert main([*base, "--from", first, "--steps", "Z"]) == 2
    assert "error: --steps: no step Z in the pipeline (steps: A, B, C)" in capsys.readouterr().err
    assert main([*base, "--steps", "B"]) == 2
    assert "needs both --from EXECUTION and --steps" in capsys.readouterr().err


def _callback_pipeline(session: Any) -> Pipeline:
    from sagemaker.workflow.callback_step import (
        CallbackOutput,
        CallbackOutputTypeEnum,
        CallbackStep,
    )

    wait = CallbackStep(
        name="Approve",
        sqs_queue_url="https://sqs.us-east-1.amazonaws.com/000000000000/approvals",
        inputs={"model": "m-1"},
        outputs=[CallbackOutput(output_name="verdict", output_type=CallbackOutputTypeEnum.String)],
    )
    ok = FailStep(
        name="Said",
        error_message=Join(on=" ", values=["verdict", wait.properties.Outputs["verdict"]]),
    )
    return _pipeline("callback", session, [wait, ok])


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_a_callback_step_waits_for_its_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outcome: str
) -> None:
    import threading
    import time

    from sm_pipelines.local.steps.callback import waiting_tokens

    with offline_session("us-east-1", BUCKET) as session:
        pipeline = _callback_pipeline(session)
        state = LocalState(tmp_path / "state")
        definition = load_definition(pipeline.definition(), "corpus")
        runner = Runner(state, definition, "callback", RunSettings(cwd=tmp_path))
        done: list[Execution] = []
        thread = threading.Thread(target=lambda: done.append(runner.start({})))
        thread.start()
        deadline = time.monotonic() + 30
        while not waiting_tokens(state) and time.monotonic() < deadline:
            time.sleep(0.05)
        (token,) = waiting_tokens(state)
        message = json.loads((state.root / "queues/approvals.jsonl").read_text())
        assert (message["token"], message["arguments"]) == (token, {"model": "m-1"})
        args = ["callback", outcome, token, "--state", str(state.root)]
        extra = ["--output", "verdict=ship"] if outcome == "success" else ["--reason", "no"]
        assert main([*args, *extra]) == 0
        thread.join(timeout=30)
    (execution,) = done
    if outcome == "success":
        assert execution.failure_reason == "verdict ship"
        assert execution.steps["Approve"].status == SUCCEEDED
    else:
        assert execution.steps["Approve"].failure_reason == "Callback failure: no"
        assert execution.steps["Said"].status == NOT_EXECUTED
    capsys.readouterr()
    assert main([*args, *extra]) == 2  # answered once only
    assert "no callback step waits for token" in capsys.readouterr().err
