"""The local executor runs an SDK TransformStep (batch transform) on the model a ModelStep made.

Each definition is built with the real SDK inside `offline_session`: ModelStep(model.create())
then a TransformStep whose transformer names the model by `step.properties.ModelName`. The
model is a tiny multiplier (factor.json + code/inference.py in model.tar.gz) staged into the
local S3; each test asserts the exact `.out` bytes SageMaker's batch transform would write.
"""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from sagemaker.model import Model
from sagemaker.transformer import Transformer
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.steps import CacheConfig, TransformStep

from sm_pipelines.compile.session import offline_session
from sm_pipelines.local import batch, registry
from sm_pipelines.local.execution import FAILED, SUCCEEDED, Execution
from sm_pipelines.local.plan import load_definition
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.sandbox import namespace_prefix
from sm_pipelines.local.state import LocalState
from tests.local_definitions import tarball

PIPELINE = "batch-scoring"
BUCKET = "scoring"
PREFIX = f"s3://{BUCKET}/p"
ROLE = "arn:aws:iam::000000000000:role/runner"
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/local:latest"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
MODEL_DATA = f"{PREFIX}/model/model.tar.gz"

# Multiplies every number by the model's factor (3). CSV rows or JSON lines (an array, or an
# object with "x") in; CSV rows or one JSON array of rows out.
INFERENCE = """\
import json, os

class Multiplier:
    def __init__(self, factor):
        self.factor = factor

    def predict(self, rows):
        return [[value * self.factor for value in row] for row in rows]

def model_fn(model_dir):
    with open(os.path.join(model_dir, "factor.json")) as handle:
        return Multiplier(json.load(handle)["factor"])

def input_fn(body, content_type):
    if content_type == "text/csv":
        return [[float(v) for v in line.split(",")] for line in body.splitlines()]
    rows = [json.loads(line) for line in body.splitlines()]
    return [row["x"] if isinstance(row, dict) else row for row in rows]

def predict_fn(rows, model):
    for row in rows:
        for value in row:
            if value < 0:
                raise ValueError("negative input %g" % value)
    return model.predict(rows)

def output_fn(prediction, accept):
    if accept == "text/csv":
        return "\\n".join(",".join("%g" % v for v in row) for row in prediction)
    return json.dumps(prediction)
"""

# Only model_fn: the toolkit's default input_fn, predict_fn (model.predict) and output_fn.
DEFAULTS_ONLY = """\
class Doubler:
    def predict(self, data):
        return data * 2

def model_fn(model_dir):
    return Doubler()
"""

# Reads the model by its container path, as code written for the container does.
LITERAL_PATH = """\
import json

def model_fn(model_dir):
    with open("/opt/ml/model/factor.json") as handle:
        return json.load(handle)["factor"]

def predict_fn(data, factor):
    return data * factor
"""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a definition must not reach AWS (the jobs run in their own processes)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network is forbidden in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _model_files(code: str | None = INFERENCE) -> dict[str, str]:
    files = {"factor.json": json.dumps({"factor": 3})}
    if code is not None:
        files["code/inference.py"] = code
    return files


def _definition(
    transform: dict[str, Any] | None = None,
    transformer: dict[str, Any] | None = None,
    model: dict[str, Any] | None = None,
    model_name: str | None = None,
    step: dict[str, Any] | None = None,
) -> str:
    """ModelStep(create) -> TransformStep on s3://.../in, output to s3://.../out."""
    with offline_session("us-east-1", BUCKET) as session:
        steps: list[Any] = []
        name: Any = model_name
        if model_name is None:
            options = {"image_uri": IMAGE, "model_data": MODEL_DATA, "role": ROLE, **(model or {})}
            made = Model(sagemaker_session=session, **options)
            create = ModelStep(name="Make", step_args=made.create(instance_type="ml.m5.large"))
            steps.append(create)
            name = create.properties.ModelName
        scorer = Transformer(
            model_name=name,
            instance_count=1,
            instance_type="ml.m5.large",
            output_path=f"{PREFIX}/out",
            # Named, so the SDK does not ask AWS for a literal model's image to name the job.
            base_transform_job_name="score",
            sagemaker_session=session,
            **(transformer or {}),
        )
        steps.append(
            TransformStep(
                name="Score",
                step_args=scorer.transform(data=f"{PREFIX}/in", **(transform or {})),
                **(step or {}),
            )
        )
        pipeline = Pipeline(
            name=PIPELINE,
            steps=steps,
            sagemaker_session=session,
            pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
        )
        return pipeline.definition()


def _run(
    tmp_path: Path,
    definition: str,
    inputs: dict[str, bytes],
    model_files: dict[str, str] | None = None,
    extra: dict[str, bytes] | None = None,
    namespace: tuple[str, ...] | None = None,
    environment: dict[str, str] | None = None,
) -> tuple[Execution, LocalState]:
    state = LocalState(tmp_path / "state")
    state.put_bytes(MODEL_DATA, tarball(_model_files() if model_files is None else model_files))
    for name, data in inputs.items():
        state.put_bytes(f"{PREFIX}/in/{name}", data)
    for uri, data in (extra or {}).items():
        state.put_bytes(uri, data)
    loaded = load_definition(definition, "test")
    settings = RunSettings(
        cwd=tmp_path, sleep=lambda _s: None, namespace=namespace, environment=environment or {}
    )
    runner = Runner(state, loaded, PIPELINE, settings)
    return runner.start(loaded.typed_parameters({})), state


def _log(state: LocalState, execution: Execution) -> str:
    path = state.execution_dir(execution.id) / "logs" / "Score.log"
    return path.read_text() if path.is_file() else ""


def _succeeded(state: LocalState, execution: Execution) -> dict[str, Any]:
    assert execution.status == SUCCEEDED, (execution.failure_reason, _log(state, execution))
    return execution.steps["Score"].properties


def _out(state: LocalState, name: str) -> str:
    return state.s3_path(f"{PREFIX}/out/{name}.out").read_text()


def _failure(execution: Execution) -> str:
    assert execution.status == FAILED
    reason = execution.steps["Score"].failure_reason
    assert reason and "\n" not in reason, reason
    return reason


CSV_ROWS = b"1,2\n3,4\n"


def test_line_split_single_record_writes_one_out_per_object(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"strategy": "SingleRecord", "assemble_with": "Line", "accept": "text/csv"},
    )
    execution, state = _run(tmp_path, definition, {"a.csv": CSV_ROWS, "day/b.csv": b"5,6\n\n7,8"})
    properties = _succeeded(state, execution)
    assert _out(state, "a.csv") == "3,6\n9,12\n"
    # Objects in sub-folders keep their relative names; blank lines are no records.
    assert _out(state, "day/b.csv") == "15,18\n21,24\n"
    assert "answered 4 request(s)" in _log(state, execution)
    assert properties["TransformJobStatus"] == "Completed"
    name = properties["TransformJobName"]
    assert name.startswith(f"pipelines-{execution.id}-Score")
    assert properties["TransformJobArn"].endswith(f":transform-job/{name.lower()}")
    assert properties["TransformOutput"]["S3OutputPath"] == f"{PREFIX}/out"
    assert properties["ModelName"] == execution.steps["Make-CreateModel"].properties["ModelName"]


def test_multi_record_sends_several_records_per_request(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"strategy": "MultiRecord", "assemble_with": "Line", "accept": "text/csv"},
    )
    execution, state = _run(tmp_path, definition, {"a.csv": CSV_ROWS + b"5,6\n"})
    _succeeded(state, execution)
    assert _out(state, "a.csv") == "3,6\n9,12\n15,18\n"
    assert "answered 1 request(s)" in _log(state, execution)


def test_multi_record_requests_stay_within_max_payload(tmp_path: Path) -> None:
    rows = b"1,1\n" * 300_000  # 1.2 MB: two requests of at most 1 MB
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={
            "strategy": "MultiRecord",
            "assemble_with": "Line",
            "accept": "text/csv",
            "max_payload": 1,
        },
    )
    execution, state = _run(tmp_path, definition, {"big.csv": rows})
    _succeeded(state, execution)
    assert "answered 2 request(s)" in _log(state, execution)
    assert _out(state, "big.csv") == "3,3\n" * 300_000


def test_without_assemble_with_answers_are_concatenated(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"strategy": "SingleRecord", "accept": "text/csv"},
    )
    execution, state = _run(tmp_path, definition, {"a.csv": CSV_ROWS})
    _succeeded(state, execution)
    assert _out(state, "a.csv") == "3,69,12"


def test_accept_json_gets_the_json_answer(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={
            "strategy": "SingleRecord",
            "assemble_with": "Line",
            "accept": "application/json",
        },
    )
    execution, state = _run(tmp_path, definition, {"a.csv": CSV_ROWS})
    _succeeded(state, execution)
    assert _out(state, "a.csv") == "[[3.0, 6.0]]\n[[9.0, 12.0]]\n"


def test_whole_object_without_split_type(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "compression_type": "Gzip"},
        transformer={"accept": "text/csv"},
    )
    execution, state = _run(tmp_path, definition, {"a.csv.gz": gzip.compress(CSV_ROWS)})
    _succeeded(state, execution)
    assert _out(state, "a.csv.gz") == "3,6\n9,12"
    assert "answered 1 request(s)" in _log(state, execution)


@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_csv_input_filter_join_and_output_filter(tmp_path: Path, strategy: str) -> None:
    definition = _definition(
        transform={
            "content_type": "text/csv",
            "split_type": "Line",
            "input_filter": "$[1:]",
            "join_source": "Input",
            "output_filter": "$[0,-1]",
        },
        transformer={"strategy": strategy, "assemble_with": "Line", "accept": "text/csv"},
    )
    execution, state = _run(tmp_path, definition, {"a.csv": b"id1,1,2\nid2,3,4\n"})
    _succeeded(state, execution)
    # The model saw only the features; the id came back through the join.
    assert _out(state, "a.csv") == "id1,6\nid2,12\n"


def test_csv_join_keeps_every_input_column(tmp_path: Path) -> None:
    definition = _definition(
        transform={
            "content_type": "text/csv",
            "split_type": "Line",
            "input_filter": "$[1,2]",
            "join_source": "Input",
        },
        transformer={"strategy": "SingleRecord", "assemble_with": "Line", "accept": "text/csv"},
    )
    execution, state = _run(tmp_path, definition, {"a.csv": b'"x, y",1,2\n'})
    _succeeded(state, execution)
    assert _out(state, "a.csv") == '"x, y",1,2,3,6\n'


def test_json_lines_filter_join_and_output_filter(tmp_path: Path) -> None:
    definition = _definition(
        transform={
            "content_type": "application/jsonlines",
            "split_type": "Line",
            "input_filter": "$.features",
            "join_source": "Input",
            "output_filter": "$['id','SageMakerOutput']",
        },
        transformer={
            "strategy": "MultiRecord",
            "assemble_with": "Line",
            "accept": "application/json",
        },
    )
    lines = b'{"id": "a", "features": [1, 2], "note": "x"}\n{"id": "b", "features": [3, 4]}\n'
    execution, state = _run(tmp_path, definition, {"a.jsonl": lines})
    _succeeded(state, execution)
    # One request carried both records; its JSON array answer was matched element by element.
    assert "answered 1 request(s)" in _log(state, execution)
    assert _out(state, "a.jsonl") == (
        '{"id":"a","SageMakerOutput":[3,6]}\n{"id":"b","SageMakerOutput":[9,12]}\n'
    )


def test_json_output_filter_without_join(tmp_path: Path) -> None:
    definition = _definition(
        transform={
            "content_type": "application/json",
            "split_type": "Line",
            "output_filter": "$[0]",
        },
        transformer={
            "strategy": "SingleRecord",
            "assemble_with": "Line",
            "accept": "application/json",
        },
    )
    execution, state = _run(tmp_path, definition, {"a.json": b'{"x": [1, 2]}\n'})
    _succeeded(state, execution)
    # The answer [[3, 6]] filtered to its first row, written as compact JSON.
    assert _out(state, "a.json") == "[3,6]\n"


def test_a_failing_predict_fn_is_the_jobs_algorithm_error(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"strategy": "SingleRecord", "accept": "text/csv"},
    )
    execution, state = _run(tmp_path, definition, {"a.csv": b"1,2\n3,-4\n"})
    assert _failure(execution) == "AlgorithmError: exit code 1: ValueError: negative input -4"
    assert "Traceback" in _log(state, execution)
    assert not state.s3_path(f"{PREFIX}/out").exists()


SLOW = """\
import time

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    time.sleep(5)
    return body
"""


def test_a_request_past_the_invocation_timeout_fails_the_job(tmp_path: Path) -> None:
    definition = _definition(
        transform={
            "content_type": "text/csv",
            "model_client_config": {"InvocationsTimeoutInSeconds": 1},
        }
    )
    execution, _ = _run(tmp_path, definition, {"a.csv": CSV_ROWS}, _model_files(SLOW))
    assert _failure(execution) == (
        "AlgorithmError: exit code 1: TimeoutError: request 1 took longer than "
        "InvocationsTimeoutInSeconds (1 s)"
    )


def test_a_missing_model_is_one_line(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"}, model_name="nowhere"
    )
    execution, _ = _run(tmp_path, definition, {"a.csv": CSV_ROWS})
    reason = _failure(execution)
    assert reason.startswith('ClientError: Could not find model "arn:')
    assert ':model/nowhere"' in reason


def test_a_cached_transform_reruns_when_the_input_bytes_change(tmp_path: Path) -> None:
    # A model made outside this pipeline, recorded as a Model step records it.
    state = LocalState(tmp_path / "state")
    models = state.root / "models"
    models.mkdir(parents=True)
    (models / "kept-model.json").write_text(
        json.dumps({"PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": MODEL_DATA}})
    )
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"strategy": "SingleRecord", "assemble_with": "Line", "accept": "text/csv"},
        model_name="kept-model",
        step={"cache_config": CacheConfig(enable_caching=True, expire_after="P1D")},
    )
    first, state = _run(tmp_path, definition, {"a.csv": CSV_ROWS})
    _succeeded(state, first)
    again, state = _run(tmp_path, definition, {"a.csv": CSV_ROWS})
    assert again.steps["Score"].cache_source == first.id
    assert "LocalInputDigest" not in _succeeded(state, again)
    changed, state = _run(tmp_path, definition, {"a.csv": b"10,20\n"})
    assert changed.steps["Score"].cache_source is None
    _succeeded(state, changed)
    assert _out(state, "a.csv") == "30,60\n"


def test_a_model_made_from_a_registered_package_runs_its_container(tmp_path: Path) -> None:
    state = LocalState(tmp_path / "state")
    spec = {"Containers": [{"Image": IMAGE, "ModelDataUrl": MODEL_DATA}]}
    package = registry.register(
        state,
        "scorers",
        {"InferenceSpecification": spec, "ModelApprovalStatus": "Approved"},
        "us-east-1",
        "000000000000",
    )
    models = state.root / "models"
    models.mkdir(parents=True)
    (models / "from-package.json").write_text(
        json.dumps({"PrimaryContainer": {"ModelPackageName": package["ModelPackageArn"]}})
    )
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"assemble_with": "Line", "accept": "text/csv"},
        model_name="from-package",
    )
    execution, state = _run(tmp_path, definition, {"a.csv": CSV_ROWS})
    _succeeded(state, execution)
    assert _out(state, "a.csv") == "3,6\n9,12\n"


def test_default_input_and_output_fn(tmp_path: Path) -> None:
    json_definition = _definition(
        transform={"content_type": "application/json", "split_type": "Line"},
        transformer={
            "strategy": "SingleRecord",
            "assemble_with": "Line",
            "accept": "application/json",
        },
    )
    files = _model_files(DEFAULTS_ONLY)
    execution, state = _run(
        tmp_path / "json", json_definition, {"a.json": b"[1, 2]\n[3, 4]\n"}, files
    )
    _succeeded(state, execution)
    assert _out(state, "a.json") == "[2, 4]\n[6, 8]\n"

    csv_definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"strategy": "MultiRecord", "accept": "text/csv"},
    )
    execution, state = _run(tmp_path / "csv", csv_definition, {"a.csv": CSV_ROWS}, files)
    _succeeded(state, execution)
    # numpy.savetxt, as the toolkit's CSV encoder writes it.
    assert _out(state, "a.csv") == "2,4\n6,8\n"


def test_an_unsupported_content_type_names_input_fn(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/plain", "split_type": "Line"},
        transformer={"accept": "application/json"},
    )
    execution, _ = _run(tmp_path, definition, {"a.txt": b"1\n"}, _model_files(DEFAULTS_ONLY))
    reason = _failure(execution)
    assert reason.startswith("AlgorithmError: exit code 1: ValueError: Content type text/plain")
    assert "define input_fn" in reason


def test_code_from_sagemaker_program_and_submit_directory(tmp_path: Path) -> None:
    source = f"{PREFIX}/code/sourcedir.tar.gz"
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        transformer={"strategy": "SingleRecord", "assemble_with": "Line", "accept": "text/csv"},
        model={"env": {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": source}},
    )
    execution, state = _run(
        tmp_path,
        definition,
        {"a.csv": CSV_ROWS},
        model_files=_model_files(None),
        extra={source: tarball({"serve.py": INFERENCE, "requirements.txt": "numpy\n"})},
    )
    _succeeded(state, execution)
    assert _out(state, "a.csv") == "3,6\n9,12\n"
    # The code folder's requirements.txt went through the image's pip first.
    assert "pip: already satisfied: numpy" in _log(state, execution)


def test_a_model_without_inference_code_is_refused_in_one_line(tmp_path: Path) -> None:
    definition = _definition(transform={"content_type": "text/csv", "split_type": "Line"})
    execution, _ = _run(tmp_path, definition, {"a.csv": CSV_ROWS}, _model_files(None))
    reason = _failure(execution)
    assert reason.startswith("ClientError: model pipelines-")
    assert f"(image {IMAGE}) has no inference code" in reason


def test_xgboost_without_the_package_says_so_in_one_line(tmp_path: Path) -> None:
    # The image's Python here has xgboost; a module of that name that fails to import stands
    # in for one that lacks it.
    shadow = tmp_path / "no-xgboost"
    shadow.mkdir()
    (shadow / "xgboost.py").write_text("raise ImportError('no xgboost in this image')\n")
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line"},
        model={"image_uri": XGBOOST_IMAGE},
    )
    execution, _ = _run(
        tmp_path,
        definition,
        {"a.csv": CSV_ROWS},
        {"xgboost-model": "{}"},
        environment={"PYTHONPATH": str(shadow)},
    )
    reason = _failure(execution)
    assert reason.startswith(f"ClientError: model image {XGBOOST_IMAGE} is the SageMaker XGBoost")
    assert "xgboost package" in reason


def test_a_filter_outside_the_record_is_one_line(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "text/csv", "split_type": "Line", "input_filter": "$[5]"},
    )
    execution, _ = _run(tmp_path, definition, {"a.csv": CSV_ROWS})
    assert _failure(execution) == (
        "ClientError: a.csv record 1: $[5]: index 5 is outside the record's 2 columns"
    )


NAMESPACE, WHY_NOT = namespace_prefix()


@pytest.mark.skipif(NAMESPACE is None, reason=f"no mount namespace: {WHY_NOT}")
def test_model_code_sees_the_model_at_opt_ml_model(tmp_path: Path) -> None:
    definition = _definition(
        transform={"content_type": "application/json", "split_type": "Line"},
        transformer={"strategy": "SingleRecord", "assemble_with": "Line"},
    )
    execution, state = _run(
        tmp_path, definition, {"a.json": b"[1, 2]\n"}, _model_files(LITERAL_PATH), None, NAMESPACE
    )
    _succeeded(state, execution)
    assert _out(state, "a.json") == "[3, 6]\n"


# -- the agent's pieces, directly ------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ("$", ["a", "b"], ["a", "b"]),
        ("$[1:]", ["a", "b", "c"], ["b", "c"]),
        ("$[0,2]", ["a", "b", "c"], ["a", "c"]),
        ("$[0,5:]", list("abcdefg"), ["a", "f", "g"]),
        ("$[-1]", ["a", "b"], "b"),
        ("$.features", {"features": [1, 2], "id": 7}, [1, 2]),
        ("$.a.b[0]", {"a": {"b": [5, 6]}}, 5),
        (
            "$['id','SageMakerOutput']",
            {"id": 1, "x": 2, "SageMakerOutput": 3},
            {"id": 1, "SageMakerOutput": 3},
        ),
        ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ],
)
def test_filters_select_what_sagemaker_documents(
    expression: str, value: Any, expected: Any
) -> None:
    path = batch.parse_path(expression, "InputFilter")
    assert batch.apply_path(path, value, "r") == expected


@pytest.mark.parametrize("expression", ["features", "$..a", "$[a]", "$[1", "$.a?"])
def test_unsupported_filters_are_refused(expression: str) -> None:
    with pytest.raises(batch.BatchError, match="OutputFilter"):
        batch.parse_path(expression, "OutputFilter")


def test_json_join_wraps_what_is_not_an_object() -> None:
    assert batch.join([1, 2], "[3]", batch.JSON, batch.JSON) == {
        "SageMakerInput": [1, 2],
        "SageMakerOutput": [3],
    }
    assert batch.join({"id": 1}, "0.5", batch.JSON, batch.CSV) == {"id": 1, "SageMakerOutput": 0.5}
    assert batch.join(["a"], "[1, 2]", batch.CSV, batch.JSON) == ["a", 1, 2]


def test_batches_respect_strategy_and_payload() -> None:
    records = [b"a" * 400_000, b"b" * 400_000, b"c" * 400_000]
    assert [i for i, _ in batch.batches(records, True, 1, "f")] == [[0, 1], [2]]
    assert [i for i, _ in batch.batches(records, False, 1, "f")] == [[0], [1], [2]]
    assert [i for i, _ in batch.batches(records, True, 0, "f")] == [[0, 1, 2]]
    with pytest.raises(batch.BatchError, match="more than MaxPayloadInMB"):
        batch.batches([b"x" * (batch.MB + 1)], True, 1, "f")
