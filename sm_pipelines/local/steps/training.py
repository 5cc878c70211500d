"""Training jobs in script mode: the contract the SageMaker training toolkit gives a script.

/opt/ml/code holds sagemaker_submit_directory, /opt/ml/input/data/<channel> each channel,
/opt/ml/input/config the hyperparameters; the script saves to /opt/ml/model, which is packed to
<S3OutputPath>/<job>/output/model.tar.gz. SM_* variables and --key value arguments as the
toolkit sets them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

from sm_pipelines.local.job import JobContext, StepFailure, command_for, run_job
from sm_pipelines.local.job import evaluated_arguments as prepare
from sm_pipelines.local.runtimes import remote_function

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


def _pack(directory: Path) -> bytes | None:
    if not directory.is_dir() or not any(directory.iterdir()):
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


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    if remote_function.matches(arguments):
        return remote_function.run(ctx, arguments)
    algorithm = arguments.get("AlgorithmSpecification", {})
    image = algorithm.get("TrainingImage")
    hyperparameters = dict(arguments.get("HyperParameters") or {})
    program = _decoded(hyperparameters.get("sagemaker_program"))
    submit_directory = _decoded(hyperparameters.get("sagemaker_submit_directory"))
    if not program or not submit_directory:
        raise StepFailure(
            "ClientError: no sagemaker_program / sagemaker_submit_directory hyperparameters; "
            "the local executor runs script-mode training jobs"
        )
    ml = ctx.container_path(ML)
    code_dir = ml / "code"
    _stage_code(ctx, submit_directory, code_dir)
    if not (code_dir / program).is_file():
        raise StepFailure(
            f"ClientError: sagemaker_program {program!r} is not in {submit_directory}"
        )

    channels = []
    for channel in arguments.get("InputDataConfig", []):
        name = channel["ChannelName"]
        source = channel.get("DataSource", {}).get("S3DataSource", {})
        try:
            ctx.state.copy_prefix(source["S3Uri"], ml / "input/data" / name)
        except (FileNotFoundError, KeyError) as exc:
            raise StepFailure(f"ClientError: channel {name}: {exc}") from None
        channels.append(name)
    checkpoint = arguments.get("CheckpointConfig")
    checkpoint_dir = ctx.container_path((checkpoint or {}).get("LocalPath", f"{ML}/checkpoints"))
    if checkpoint and ctx.state.s3_path(checkpoint["S3Uri"]).exists():
        ctx.state.copy_prefix(checkpoint["S3Uri"], checkpoint_dir)

    config = ml / "input/config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters), encoding="utf-8")
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}), encoding="utf-8"
    )
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"TrainingInputMode": "File"} for name in channels}), encoding="utf-8"
    )
    for sub in ("model", "output/data"):
        (ml / sub).mkdir(parents=True, exist_ok=True)
    seen = ctx.job_path
    user = {k: _decoded(v) for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    env = {
        key: str(ctx.rewrite(value)) for key, value in (arguments.get("Environment") or {}).items()
    }
    env.update(
        {
            "SM_ML_ROOT": seen(ML),
            "SM_MODEL_DIR": seen(f"{ML}/model"),
            "SM_OUTPUT_DIR": seen(f"{ML}/output"),
            "SM_OUTPUT_DATA_DIR": seen(f"{ML}/output/data"),
            "SM_INPUT_DIR": seen(f"{ML}/input"),
            "SM_INPUT_CONFIG_DIR": seen(f"{ML}/input/config"),
            "SM_CHANNELS": json.dumps(channels),
            "SM_HPS": json.dumps(user),
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_CURRENT_HOST": "algo-1",
            "SM_NUM_GPUS": "0",
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_USER_ENTRY_POINT": program,
            "SM_MODULE_DIR": submit_directory,
            **{f"SM_CHANNEL_{name.upper()}": seen(f"{ML}/input/data/{name}") for name in channels},
            **{f"SM_HP_{key.upper()}": str(value) for key, value in user.items()},
        }
    )
    args = [item for key, value in user.items() for item in (f"--{key}", str(value))]
    # A shell launcher (the SDK's repack job has one) runs under its shell, as the container's
    # entrypoint runs it; anything else with the image's python.
    script = seen(f"{ML}/code/{program}")
    if program.endswith(".sh"):
        command = ["/bin/sh", script, *args]
    else:
        command = command_for(ctx, image, ["python3", script, *args])
    timeout = arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    try:
        log = run_job(ctx, command, env, code_dir, timeout, image)
    except StepFailure as failure:
        reason_file = ml / "output/failure"
        if reason_file.is_file() and reason_file.read_text().strip():
            failure.reason = f"{failure.reason} ({reason_file.read_text().strip()[:500]})"
        raise

    output_path = arguments.get("OutputDataConfig", {}).get("S3OutputPath", "").rstrip("/")
    if not output_path:
        raise StepFailure("ClientError: OutputDataConfig.S3OutputPath is missing")
    name = ctx.named(arguments.get("TrainingJobName"))
    model_uri = f"{output_path}/{name}/output/model.tar.gz"
    model = _pack(ml / "model")
    if model is None:
        raise StepFailure("AlgorithmError: the training script saved nothing to SM_MODEL_DIR")
    ctx.state.put_bytes(model_uri, model)
    output_data = _pack(ml / "output/data")
    if output_data is not None:
        ctx.state.put_bytes(f"{output_path}/{name}/output/output.tar.gz", output_data)
    if checkpoint and checkpoint_dir.is_dir():
        ctx.state.upload_dir(checkpoint_dir, checkpoint["S3Uri"])
    return {
        **arguments,
        "TrainingJobName": name,
        "TrainingJobArn": ctx.arn("training-job", name),
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": _final_metrics(log, algorithm.get("MetricDefinitions", [])),
    }
