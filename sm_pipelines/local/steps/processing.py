"""Processing jobs: inputs copied under the sandbox's /opt/ml/processing, outputs collected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sm_pipelines.local.expressions import to_text
from sm_pipelines.local.job import JobContext, StepFailure, command_for, run_job
from sm_pipelines.local.job import evaluated_arguments as prepare

__all__ = ["prepare", "run"]


def _bundle_first(command: list[str]) -> list[str]:
    """`python -m module` in an image environment, with `-P`: the working directory (the
    project, here) is not put ahead of PYTHONPATH, so the module comes from the code bundle
    the job was given, as in the image, whose interpreter holds no copy of the project."""
    for part in command[1:]:
        if part == "-m":
            return [command[0], "-P", *command[1:]]
        if not part.startswith("-") or part == "-c":
            break
    return command


def _working_dir(ctx: JobContext, image: str | None) -> Path:
    """Where the job's process starts: the project's folder for the project's own images (their
    `python -m components.<job>` finds the code there), a fresh folder in the sandbox for
    SageMaker's images, whose scripts write where they stand (`tar.extractall(".")`) and must
    not write into the folder the run was started from."""
    if ctx.images.runtime(image).framework is None:
        return ctx.cwd
    work = ctx.sandbox / "work"
    work.mkdir(parents=True, exist_ok=True)
    return work


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    app = arguments.get("AppSpecification", {})
    image = app.get("ImageUri")
    entrypoint = list(app.get("ContainerEntrypoint") or [])
    if not entrypoint:
        raise StepFailure(
            f"ClientError: image {image} has no ContainerEntrypoint in the definition; the local "
            "executor runs the entrypoint, not the image, so the step must name one"
        )
    for item in arguments.get("ProcessingInputs", []):
        name = item.get("InputName", "?")
        s3_input = item.get("S3Input")
        if not s3_input:
            raise StepFailure(f"ClientError: input {name}: only S3Input runs locally")
        if s3_input.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise StepFailure(f"ClientError: input {name}: only S3Prefix inputs run locally")
        try:
            ctx.state.copy_prefix(s3_input["S3Uri"], ctx.container_path(s3_input["LocalPath"]))
        except FileNotFoundError as exc:
            raise StepFailure(f"ClientError: input {name}: {exc}") from None
    outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for item in outputs:
        ctx.container_path(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    command = [
        to_text(ctx.rewrite(part))
        for part in command_for(ctx, image, entrypoint + list(app.get("ContainerArguments") or []))
    ]
    if ctx.images.runtime(image).isolated:
        command = _bundle_first(command)
    env = {
        key: to_text(ctx.rewrite(value))
        for key, value in (arguments.get("Environment") or {}).items()
    }
    env["SM_ML_ROOT"] = ctx.job_path("/opt/ml")
    timeout = arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    run_job(ctx, command, env, _working_dir(ctx, image), timeout, image)
    for item in outputs:
        s3_output = item["S3Output"]
        ctx.state.upload_dir(ctx.container_path(s3_output["LocalPath"]), s3_output["S3Uri"])
    name = ctx.named(arguments.get("ProcessingJobName"))
    return {
        **arguments,
        "ProcessingJobName": name,
        "ProcessingJobArn": ctx.arn("processing-job", name),
        "ProcessingJobStatus": "Completed",
    }
