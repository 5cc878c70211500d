"""Batch transform jobs (an SDK TransformStep) on a model a Model step created, without Docker.

The model is the CreateModel request a Model step recorded under <state>/models/<ModelName>.json:
its model data is extracted into the sandbox's /opt/ml/model and its code (SAGEMAKER_PROGRAM with
SAGEMAKER_SUBMIT_DIRECTORY, or the code/inference.py inside model.tar.gz that the PyTorch and
Hugging Face containers look for) is served by `local/model_server.py` in one job process under
the image's interpreter. Around it this module does what SageMaker's agent does (`local/batch.py`):
records by SplitType, InputFilter, SingleRecord or MultiRecord requests within MaxPayloadInMB,
JoinSource, OutputFilter, and one `<object>.out` per input object under S3OutputPath, assembled
by AssembleWith.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sm_pipelines.local import batch, registry
from sm_pipelines.local.expressions import to_text
from sm_pipelines.local.job import (
    JobContext,
    StepFailure,
    command_for,
    evaluated_arguments,
    run_job,
)

__all__ = ["prepare", "run"]

ML = "/opt/ml"
SERVER = Path(__file__).resolve().parents[1] / "model_server.py"
DEFAULT_INVOCATION_TIMEOUT = 600
PROGRAM = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
# Not part of SageMaker's request: what `prepare` adds for the cache key, and `run` removes.
CONTENT_DIGEST = "LocalInputDigest"


def _client_error(message: str) -> StepFailure:
    return StepFailure(f"ClientError: {message}")


def _model(ctx: JobContext, name: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise _client_error(f"ModelName {name!r} is not a model name")
    path = ctx.state.root / "models" / f"{name}.json"
    if not path.is_file():
        raise _client_error(
            f'Could not find model "{ctx.arn("model", name)}" (locally a model exists once a '
            f"Model step of a local run created it; nothing at {path})"
        )
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise _client_error(f"model {name}: {path} cannot be read ({exc})") from None
    containers = [recorded["PrimaryContainer"]] if recorded.get("PrimaryContainer") else []
    containers = containers or recorded.get("Containers") or []
    if len(containers) != 1:
        raise _client_error(
            f"model {name} has {len(containers)} containers (an inference pipeline); local "
            "batch transform runs single-container models"
        )
    container = containers[0]
    package = container.get("ModelPackageName")
    if package and not container.get("Image"):
        return _package_container(ctx, str(name), str(package))
    return container


def _package_container(ctx: JobContext, name: str, package: str) -> dict[str, Any]:
    """The container of a model made from a versioned package of the local registry."""
    group, _, version = package.rpartition(":model-package/")[2].partition("/")
    found = (
        [
            record
            for record in registry.versions(ctx.state, group)
            if record.get("ModelPackageArn") == package
            or str(record["ModelPackageVersion"]) == version
        ]
        if group and version
        else []
    )
    if not found:
        raise _client_error(
            f"model {name} is made from model package {package}, which is not in the local registry"
        )
    containers = (found[0].get("InferenceSpecification") or {}).get("Containers") or []
    if len(containers) != 1:
        raise _client_error(
            f"model package {package} has {len(containers)} inference containers; local batch "
            "transform runs single-container models"
        )
    return containers[0]


def _extract(source: Path, destination: Path, what: str) -> None:
    try:
        with tarfile.open(source) as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError, zlib.error) as exc:
        raise _client_error(f"{what} is not a tarball ({exc})") from None


def _stage_model(ctx: JobContext, name: str, container: dict[str, Any], model_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    url = container.get("ModelDataUrl")
    source_spec = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    if url:
        source = ctx.state.s3_path(url)
        if source.is_file():
            _extract(source, model_dir, f"model {name}'s ModelDataUrl {url}")
        elif source.is_dir():
            shutil.copytree(source, model_dir, dirs_exist_ok=True)
        else:
            raise _client_error(f"model {name}'s ModelDataUrl {url} holds nothing ({source})")
    elif source_spec.get("S3Uri"):
        uri = source_spec["S3Uri"]
        source = ctx.state.s3_path(uri)
        if source_spec.get("CompressionType") == "Gzip" and source.is_file():
            _extract(source, model_dir, f"model {name}'s ModelDataSource {uri}")
        elif source.exists():
            ctx.state.copy_prefix(uri, model_dir)
        else:
            raise _client_error(f"model {name}'s ModelDataSource {uri} holds nothing ({source})")


def _stage_code(ctx: JobContext, name: str, env: dict[str, str], ml: Path) -> tuple[str, Path]:
    """The inference script and its folder: SAGEMAKER_SUBMIT_DIRECTORY on S3 (staged at
    /opt/ml/code), a container path (the SDK's /opt/ml/model/code after a repack), or the
    model's own code/ folder."""
    program = env.get(PROGRAM) or ""
    submit = env.get(SUBMIT_DIRECTORY) or ""
    if submit.startswith("s3://"):
        code_dir = ml / "code"
        code_dir.mkdir(parents=True, exist_ok=True)
        source = ctx.state.s3_path(submit)
        if source.is_file():
            _extract(source, code_dir, f"model {name}'s {SUBMIT_DIRECTORY} {submit}")
        elif source.is_dir():
            shutil.copytree(source, code_dir, dirs_exist_ok=True)
        else:
            raise _client_error(f"model {name}'s {SUBMIT_DIRECTORY} {submit} holds nothing")
    elif submit.startswith(ML + "/"):
        code_dir = ctx.container_path(submit)
    elif submit:
        raise _client_error(
            f"model {name}'s {SUBMIT_DIRECTORY} {submit!r} is neither an s3:// URI nor a path "
            "under /opt/ml"
        )
    else:
        code_dir = ml / "model" / "code"
    program = program or ("inference.py" if (code_dir / "inference.py").is_file() else "")
    script = code_dir / (program if program.endswith(".py") else f"{program}.py")
    if program and not script.is_file():
        raise _client_error(f"model {name}: {PROGRAM} {program!r} is not in its code ({code_dir})")
    return program, code_dir


def _input_files(
    s3_path: Callable[[str], Path], transform_input: dict[str, Any]
) -> list[tuple[str, Path]]:
    """(name for the .out, local file) of every object the input names, in key order."""
    source = (transform_input.get("DataSource") or {}).get("S3DataSource") or {}
    uri, data_type = source.get("S3Uri", ""), source.get("S3DataType", "S3Prefix")
    if data_type == "ManifestFile":
        try:
            manifest = json.loads(s3_path(uri).read_text(encoding="utf-8"))
            prefix = manifest[0]["prefix"]
            names = [str(item) for item in manifest[1:]]
        except (OSError, json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            raise _client_error(f"manifest {uri} is not a manifest file ({exc})") from None
        found = [(n, s3_path(prefix.rstrip("/") + "/" + n)) for n in names]
        missing = [name for name, path in found if not path.is_file()]
        if missing:
            raise _client_error(f"manifest {uri} names {missing[0]}, which does not exist")
    elif data_type == "S3Prefix":
        path = s3_path(uri)
        if path.is_file():
            found = [(path.name, path)]
        elif path.is_dir():
            found = [(p.relative_to(path).as_posix(), p) for p in sorted(path.rglob("*"))]
        else:
            # An S3 prefix need not end at a folder: s3://b/in/day matches in/day1.csv.
            parent = path.parent
            found = [
                (p.relative_to(parent).as_posix(), p)
                for p in (sorted(parent.rglob("*")) if parent.is_dir() else [])
                if p.relative_to(parent).as_posix().startswith(path.name)
            ]
    else:
        raise _client_error(f"S3DataType {data_type} does not run locally (S3Prefix, ManifestFile)")
    found = [(name, path) for name, path in found if path.is_file()]
    if not found:
        raise _client_error(f"No S3 objects found under S3 URL {uri!r}")
    return found


def _read(name: str, path: Path, compression: str | None) -> bytes:
    data = path.read_bytes()
    if compression == "Gzip":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _client_error(f"{name} is not gzip data ({exc})") from None
    return data


def prepare(raw: dict[str, Any], scope: Any) -> dict[str, Any]:
    """The evaluated request; with caching on, plus a digest of the bytes behind the input, so
    a changed file behind the same URI runs the job again (SageMaker compares arguments only).
    `run` takes the digest out again."""
    arguments = evaluated_arguments(raw, scope)
    if (raw.get("CacheConfig") or {}).get("Enabled") and scope.s3_path is not None:
        sha = hashlib.sha256()
        try:
            for name, path in _input_files(scope.s3_path, arguments.get("TransformInput") or {}):
                sha.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        except (StepFailure, OSError, ValueError):
            sha.update(b"missing")
        arguments[CONTENT_DIGEST] = sha.hexdigest()
    return arguments


def _is_xgboost(image: str | None) -> bool:
    return "xgboost" in (image or "").rsplit("/", 1)[-1].lower()


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    arguments = {k: v for k, v in arguments.items() if k != CONTENT_DIGEST}
    name = arguments.get("ModelName")
    container = _model(ctx, name)
    image = container.get("Image")
    transform_input = arguments.get("TransformInput") or {}
    transform_output = arguments.get("TransformOutput") or {}
    output_path = (transform_output.get("S3OutputPath") or "").rstrip("/")
    if not output_path:
        raise _client_error("TransformOutput.S3OutputPath is missing")
    try:
        processing = batch.Processing.from_arguments(arguments)
    except batch.BatchError as exc:
        raise _client_error(str(exc)) from None
    container_env = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
    job_env = {str(k): str(v) for k, v in (arguments.get("Environment") or {}).items()}
    environment = {**container_env, **job_env}

    ml = ctx.container_path(ML)
    _stage_model(ctx, str(name), container, ml / "model")
    program, code_dir = _stage_code(ctx, str(name), environment, ml)
    builtin = None
    if not program:
        if not _is_xgboost(image):
            raise _client_error(
                f"model {name} (image {image}) has no inference code: set {PROGRAM} (and "
                f"{SUBMIT_DIRECTORY}) in its environment or put code/inference.py in its model "
                "data; the local executor runs the model's handlers, not its image"
            )
        builtin = "xgboost"

    compression = transform_input.get("CompressionType")
    files = _input_files(ctx.state.s3_path, transform_input)
    strategy = arguments.get("BatchStrategy") or "MultiRecord"
    if strategy not in ("SingleRecord", "MultiRecord"):
        raise _client_error(f"BatchStrategy {strategy!r} must be SingleRecord or MultiRecord")
    try:
        max_payload = float(arguments.get("MaxPayloadInMB", batch.DEFAULT_MAX_PAYLOAD_MB))
    except (TypeError, ValueError):
        raise _client_error(
            f"MaxPayloadInMB {arguments['MaxPayloadInMB']!r} is not a number"
        ) from None
    work = ctx.sandbox / "batch"
    (work / "requests").mkdir(parents=True, exist_ok=True)
    content_type = transform_input.get("ContentType")
    accept = transform_output.get("Accept")
    requests: list[dict[str, Any]] = []
    # Per object: its records and, per request, the indices of the records it carries.
    carried: list[tuple[str, list[bytes], list[list[int]]]] = []
    try:
        for object_name, path in files:
            data = _read(object_name, path, compression)
            records = batch.split_records(data, transform_input.get("SplitType"))
            bodies = [
                processing.request_record(record, f"{object_name} record {i}")
                for i, record in enumerate(records, start=1)
            ]
            indices = []
            for carries, body in batch.batches(
                bodies, strategy == "MultiRecord", max_payload, object_name
            ):
                file = f"requests/{len(requests):06d}"
                (work / file).write_bytes(body)
                requests.append({"body": file, "content_type": content_type, "accept": accept})
                indices.append(carries)
            # Only a join or an output filter needs the records again.
            carried.append((object_name, records if processing.post_processing else [], indices))
    except batch.BatchError as exc:
        raise _client_error(str(exc)) from None

    timeout = (arguments.get("ModelClientConfig") or {}).get(
        "InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT
    )
    plan = {
        "model_dir": ctx.job_path(f"{ML}/model"),
        "code_dir": ctx.job_path("/" + code_dir.relative_to(ctx.sandbox).as_posix()),
        "program": program,
        "builtin": builtin,
        "image": image,
        "timeout": timeout,
        "requests": requests,
    }
    (work / "plan.json").write_text(json.dumps(plan, indent=1), encoding="utf-8")
    # As the SDK's local mode gives them: the model's variables, the batch settings, then the
    # transform job's own variables.
    env = {
        **container_env,
        "SAGEMAKER_BATCH": "True",
        "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD"
        if strategy == "MultiRecord"
        else "SINGLE_RECORD",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": f"{max_payload:g}",
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1",
        **job_env,
    }
    env = {key: to_text(ctx.rewrite(value)) for key, value in env.items()}
    command = command_for(ctx, image, ["python3", str(SERVER), str(work)])
    cwd = code_dir if code_dir.is_dir() else ml / "model"
    try:
        run_job(ctx, command, env, cwd, None, image)
    except StepFailure as failure:
        refused = work / "failure"
        if refused.is_file() and refused.read_text(encoding="utf-8").strip():
            failure.reason = refused.read_text(encoding="utf-8").strip().splitlines()[0]
        raise

    answers = work / "responses.json"
    answered = json.loads(answers.read_text(encoding="utf-8")) if answers.is_file() else []
    if len(answered) != len(requests):
        raise StepFailure(
            f"AlgorithmError: the model server exited after answering {len(answered)} of "
            f"{len(requests)} requests"
        )
    number = 0
    try:
        for object_name, records, indices in carried:
            pieces = []
            for carries in indices:
                response = (work / "responses" / f"{number:06d}").read_bytes()
                pieces.append(
                    processing.response_piece(
                        [records[i] for i in carries] if records else [],
                        response,
                        answered[number].get("content_type"),
                        object_name,
                        first=carries[0] + 1,
                    )
                )
                number += 1
            assembled = batch.assemble(pieces, transform_output.get("AssembleWith"))
            ctx.state.put_bytes(f"{output_path}/{object_name}.out", assembled)
    except batch.BatchError as exc:
        raise _client_error(str(exc)) from None

    job = ctx.named(arguments.get("TransformJobName"))
    return {
        **arguments,
        "TransformJobName": job,
        "TransformJobArn": ctx.arn("transform-job", job),
        "TransformJobStatus": "Completed",
    }
