"""Small hand-built pipeline definitions for executor tests (shapes as the SDK emits them)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from sm_pipelines.local.plan import load_definition
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.state import LocalState

BUCKET = "s3://test-bucket"


def processing(
    name: str,
    script: str,
    inputs: dict[str, Any] | None = None,
    outputs: list[str] | None = None,
    args: list[Any] | None = None,
    env: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A processing step running `python3 /opt/ml/processing/input/code/<script>`."""
    processing_inputs = [
        {
            "InputName": "code",
            "S3Input": {
                "S3Uri": f"{BUCKET}/code/{script}",
                "LocalPath": "/opt/ml/processing/input/code",
                "S3DataType": "S3Prefix",
            },
        }
    ]
    for input_name, uri in (inputs or {}).items():
        processing_inputs.append(
            {
                "InputName": input_name,
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": f"/opt/ml/processing/input/{input_name}",
                    "S3DataType": "S3Prefix",
                },
            }
        )
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": "local/image:1",
                "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
                "ContainerArguments": args or [],
            },
            "ProcessingInputs": processing_inputs,
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": out,
                        "S3Output": {
                            "S3Uri": {
                                "Std:Join": {"On": "/", "Values": [f"{BUCKET}/out/{name}", out]}
                            },
                            "LocalPath": f"/opt/ml/processing/output/{out}",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for out in outputs or []
                ]
            },
            "Environment": env or {},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
        **extra,
    }


def output_of(step: str, output: str) -> dict[str, str]:
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"}


def definition(steps: list[dict[str, Any]], parameters: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"Version": "2020-12-01", "Parameters": parameters or [], "Steps": steps})


def stage_script(state: LocalState, name: str, source: str) -> None:
    state.put_bytes(f"{BUCKET}/code/{name}", source.encode())


def tarball(files: dict[str, str]) -> bytes:
    """A model.tar.gz-style archive of text files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def untar(path: Path) -> dict[str, str]:
    """The text files of an archive, by name."""
    with tarfile.open(path) as tar:
        return {
            member.name: tar.extractfile(member).read().decode()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


def stage_tarball(state: LocalState, uri: str, files: dict[str, str]) -> None:
    state.put_bytes(uri, tarball(files))


def runner(
    state: LocalState, text: str, cwd: Path, sleeps: list[float] | None = None, **settings: Any
) -> Runner:
    recorded = sleeps if sleeps is not None else []
    return Runner(
        state,
        load_definition(text, "test-definition"),
        "test-pipeline",
        RunSettings(cwd=cwd, sleep=recorded.append, **settings),
    )


def run_sdk_pipeline(
    state: LocalState,
    pipeline: Any,
    cwd: Path,
    files: dict[str, bytes] | None = None,
    params: dict[str, Any] | None = None,
    **settings: Any,
) -> Any:
    """Stage `files` (S3 URI -> bytes), then run an SDK `Pipeline`'s definition with the
    executor as `sm-pipelines run --local --definition` would; returns the Execution."""
    for uri, data in (files or {}).items():
        state.put_bytes(uri, data)
    loaded = load_definition(pipeline.definition(), pipeline.name)
    typed = loaded.typed_parameters({k: str(v) for k, v in (params or {}).items()})
    return Runner(state, loaded, pipeline.name, RunSettings(cwd=cwd, **settings)).start(typed)
