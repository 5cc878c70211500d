"""Training jobs: what the SageMaker platform does around the container, and which runtime
stands in for the container (`local/runtimes/`).

The platform part is the executor's: each channel under /opt/ml/input/data/<channel>, the
config files under /opt/ml/input/config (hyperparameters.json as the request has it,
resourceconfig.json, inputdataconfig.json with each channel's ContentType), checkpoints synced
from and to CheckpointConfig.S3Uri, /opt/ml/model packed to
<S3OutputPath>/<job>/output/model.tar.gz and /opt/ml/output/data to output.tar.gz,
/opt/ml/output/failure as the FailureReason, metrics from MetricDefinitions over the log.
The container part is the runtime's: script mode (sagemaker_program) through the sagemaker-training
toolkit, which decodes the hyperparameters, sets SM_*, passes `--key value` arguments and installs
requirements.txt; a built-in algorithm (no script) through its stand-in.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

from sm_pipelines.local.expressions import to_text
from sm_pipelines.local.images import LOCAL_ALGORITHMS, ImageRuntime
from sm_pipelines.local.job import JobContext, StepFailure, run_job
from sm_pipelines.local.job import evaluated_arguments as prepare
from sm_pipelines.local.runtimes import remote_function, toolkit, xgboost_algorithm

__all__ = ["prepare", "run"]

ML = "/opt/ml"


def _decoded(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _stage_code(ctx: JobContext, submit_directory: str, code_dir: Path) -> None:
    code_dir.mkdir(parents=True, exist_ok=True)
    if not submit_directory.startswith("s3://"):
        raise StepFailure(f"ClientError: sagemaker_submit_directory {submit_directory!r} is not S3")
    source = ctx.state.s3_path(submit_directory)
    if source.is_dir():
        shutil.copytree(source, code_dir, dirs_exist_ok=True)
    elif source.is_file():
        try:
            with tarfile.open(source) as tar:
                tar.extractall(code_dir, filter="data")
        except tarfile.TarError as exc:
            raise StepFailure(f"ClientError: {submit_directory} is not a tarball: {exc}") from None
    else:
        raise StepFailure(f"ClientError: {submit_directory} does not exist (looked in {source})")


def _pack(directory: Path, empty: bool = False) -> bytes | None:
    """The folder as a tar.gz; None for an empty one unless `empty` (an empty archive)."""
    if not directory.is_dir() or not (empty or any(directory.iterdir())):
        return None
    archive = directory.parent / f".{directory.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    data = archive.read_bytes()
    archive.unlink()
    return data


def _final_metrics(log: str, definitions: list[dict[str, str]]) -> list[dict[str, Any]]:
    metrics = []
    for definition in definitions:
        values = re.findall(definition["Regex"], log)
        if values:
            last = values[-1][0] if isinstance(values[-1], tuple) else values[-1]
            try:
                metrics.append({"MetricName": definition["Name"], "Value": float(last)})
            except ValueError:
                continue
    return metrics


def _script_or_algorithm(
    ctx: JobContext, image: str | None, program: Any, submit_directory: Any
) -> tuple[ImageRuntime, bool]:
    """The image's stand-in, and whether the job runs a script (else a built-in algorithm)."""
    runtime = ctx.images.runtime(image)
    if program or submit_directory:
        if not program or not submit_directory:
            raise StepFailure(
                "ClientError: script mode needs both the sagemaker_program and the "
                "sagemaker_submit_directory hyperparameters"
            )
        return runtime, True
    if runtime.algorithm in LOCAL_ALGORITHMS:
        return runtime, False
    if runtime.algorithm:
        raise StepFailure(
            f"ClientError: image {image} runs SageMaker's built-in {runtime.algorithm} "
            "algorithm, which has no local stand-in (XGBoost is the one that has)"
        )
    raise StepFailure(
        f"ClientError: image {image} is given no script (sagemaker_program) and is not a "
        "built-in algorithm the executor knows; if it is a copy of one, map it under "
        "local.images (e.g. '<registry>/my-xgboost:*': {algorithm: xgboost})"
    )


def _stage_inputs(
    ctx: JobContext, arguments: dict[str, Any], ml: Path, missing_hint: str = ""
) -> dict[str, Any]:
    """Channels under /opt/ml/input/data and the config files the container reads."""
    channels: dict[str, Any] = {}
    for channel in arguments.get("InputDataConfig", []):
        name = channel["ChannelName"]
        source = channel.get("DataSource", {}).get("S3DataSource", {})
        try:
            ctx.state.copy_prefix(source["S3Uri"], ml / "input/data" / name)
        except (FileNotFoundError, KeyError) as exc:
            hint = f" ({missing_hint})" if missing_hint else ""
            raise StepFailure(f"ClientError: channel {name}: {exc}{hint}") from None
        channels[name] = {
            "TrainingInputMode": channel.get("InputMode", "File"),
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            **({"ContentType": channel["ContentType"]} if channel.get("ContentType") else {}),
        }
    instance_type = arguments.get("ResourceConfig", {}).get("InstanceType", "local")
    config = ml / "input/config"
    config.mkdir(parents=True, exist_ok=True)
    hyperparameters = arguments.get("HyperParameters") or {}
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters), encoding="utf-8")
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": "algo-1",
                "hosts": ["algo-1"],
                "current_instance_type": instance_type,
                "current_group_name": "homogeneousCluster",
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "instance_type": instance_type,
                        "hosts": ["algo-1"],
                    }
                ],
                "network_interface_name": "eth0",
            }
        ),
        encoding="utf-8",
    )
    (config / "inputdataconfig.json").write_text(json.dumps(channels), encoding="utf-8")
    for sub in ("model", "output/data", "code"):
        (ml / sub).mkdir(parents=True, exist_ok=True)
    return channels


_TOOLKIT_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ sagemaker-training-toolkit ")


def _last_user_line(output: str) -> str | None:
    """The job's own last line of output before the toolkit reported the failure."""
    before = output.split("Reporting training FAILURE", 1)[0].splitlines()
    for line in reversed(before):
        if line.strip() and not _TOOLKIT_LINE.match(line):
            return line.strip()
    return None


def _failure_reason(failure: StepFailure, ctx: JobContext, ml: Path, function: bool) -> str:
    """SageMaker's FailureReason: what the job wrote to /opt/ml/output/failure, on one line.

    A @step job writes its exception's repr. The toolkit's generic path (the one the
    scikit-learn container takes) captures no stderr, so its ErrorMessage is empty; the job's
    own last line of output is added then, marked.
    """
    reason_file = ml / "output/failure"
    text = reason_file.read_text(errors="replace").strip() if reason_file.is_file() else ""
    if function:
        if text and not failure.exception_type:
            return f"AlgorithmError: {remote_function.one_line(text)}"
        return failure.reason
    if not text or not failure.reason.startswith("AlgorithmError"):
        return failure.reason
    reason = f"AlgorithmError: {' '.join(text.split())}"
    output_file = ctx.sandbox / "job-output.log"
    if 'ErrorMessage ""' in reason and output_file.is_file():
        last = _last_user_line(output_file.read_text(encoding="utf-8", errors="replace"))
        if last:
            reason = f"{reason} (last output: {last})"
    return reason[:1024]


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    algorithm = arguments.get("AlgorithmSpecification", {})
    image = algorithm.get("TrainingImage")
    output_path = arguments.get("OutputDataConfig", {}).get("S3OutputPath", "").rstrip("/")
    if not output_path:
        raise StepFailure("ClientError: OutputDataConfig.S3OutputPath is missing")
    name = ctx.named(arguments.get("TrainingJobName"))
    ml = ctx.container_path(ML)
    code_dir = ml / "code"
    # A @step function's job (its runtime keeps no model and reports no metrics), a script
    # (script mode) or a built-in algorithm.
    function = remote_function.matches(arguments)
    if function:
        remote_function.check(ctx, arguments)
        _stage_inputs(ctx, arguments, ml, remote_function.MISSING_CHANNEL_HINT)
        command, runtime_env, cwd = remote_function.command(ctx, arguments, name)
    else:
        hyperparameters = dict(arguments.get("HyperParameters") or {})
        program = _decoded(hyperparameters.get("sagemaker_program"))
        submit_directory = _decoded(hyperparameters.get("sagemaker_submit_directory"))
        runtime, script_mode = _script_or_algorithm(ctx, image, program, submit_directory)
        if script_mode:
            _stage_code(ctx, submit_directory, code_dir)
            if not (code_dir / program).is_file():
                raise StepFailure(
                    f"ClientError: sagemaker_program {program!r} is not in {submit_directory}"
                )
        _stage_inputs(ctx, arguments, ml)
        launcher = toolkit if script_mode else xgboost_algorithm
        command, runtime_env = launcher.command(ctx, runtime)
        cwd = code_dir
    checkpoint = arguments.get("CheckpointConfig")
    checkpoint_dir = ctx.container_path((checkpoint or {}).get("LocalPath", f"{ML}/checkpoints"))
    if checkpoint and ctx.state.s3_path(checkpoint["S3Uri"]).exists():
        ctx.state.copy_prefix(checkpoint["S3Uri"], checkpoint_dir)

    variables = arguments.get("Environment") or {}
    env = {key: to_text(ctx.rewrite(value)) for key, value in variables.items()}
    # Where the project's own jobs find /opt/ml when it is not mounted (processing does the same).
    env["SM_ML_ROOT"] = ctx.job_path(ML)
    env.update(runtime_env)
    timeout = arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    try:
        log = run_job(ctx, command, env, cwd, timeout, image)
    except StepFailure as failure:
        failure.reason = _failure_reason(failure, ctx, ml, function)
        raise

    model_uri = f"{output_path}/{name}/output/model.tar.gz"
    model = _pack(ml / "model", empty=function)
    if model is None:
        raise StepFailure("AlgorithmError: the training job saved nothing to /opt/ml/model")
    ctx.state.put_bytes(model_uri, model)
    output_data = _pack(ml / "output/data")
    if output_data is not None:
        ctx.state.put_bytes(f"{output_path}/{name}/output/output.tar.gz", output_data)
    if checkpoint and checkpoint_dir.is_dir():
        ctx.state.upload_dir(checkpoint_dir, checkpoint["S3Uri"])
    if function:
        metrics: list[dict[str, Any]] = []
    elif script_mode:
        metrics = _final_metrics(log, algorithm.get("MetricDefinitions", []))
    else:
        metrics = xgboost_algorithm.final_metrics(log)
    return {
        **arguments,
        "TrainingJobName": name,
        "TrainingJobArn": ctx.arn("training-job", name),
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": metrics,
    }
