"""Deploy to a local endpoint: unpack the version's model next to the state, check that it loads
and generates, then switch the endpoint record to it in one atomic write.

The order is the local form of blue/green: the new model is staged and health-checked while the
record still points at the old one, so a failed deploy leaves the endpoint exactly as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.common import artifacts, local_endpoints
from components.common.job import JobError
from components.common.model_registry import ModelPackage

KEEP_MODELS = 3  # unpacked models kept per endpoint: the live one and rollback targets


def health_check(model_path: Path) -> None:
    """Load the model and generate a few tokens, as SageMaker's /ping and a first request would."""
    from components.common import twin_model

    model, tokenizer = twin_model.load(model_path)
    answer = twin_model.generate(model, tokenizer, ["Say hello."], max_new_tokens=4)
    if not isinstance(answer, list) or len(answer) != 1:
        raise JobError(f"the model in {model_path} did not answer a test prompt")


def deploy(
    state: Path,
    package: ModelPackage,
    endpoint: str,
    check: Callable[[Path], None] = health_check,
) -> dict[str, Any]:
    local_endpoints.check_name(endpoint)
    if not package.model_data_url:
        raise JobError(f"model package {package.arn} has no ModelDataUrl")
    archive = artifacts.local_path(package.model_data_url, state)
    if not archive.is_file():
        raise JobError(f"model data {package.model_data_url} does not exist (looked in {archive})")
    now = datetime.now(UTC)
    config = f"{endpoint[:40]}-v{package.version}-{now:%Y%m%d-%H%M%S-%f}"
    model_path = local_endpoints.folder(state) / endpoint / "models" / config
    artifacts.extract_tarball(archive, model_path)
    try:
        check(model_path)
    except Exception as exc:
        shutil.rmtree(model_path, ignore_errors=True)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JobError(
            f"version {package.version} failed its health check ({detail}); endpoint {endpoint} "
            "is unchanged"
        ) from None

    previous = local_endpoints.read(state, endpoint)
    entry = {
        "EndpointConfigName": config,
        "ModelPackageArn": package.arn,
        "ModelDataUrl": package.model_data_url,
        "ModelPath": str(model_path),
        "CreationTime": now.isoformat(),
    }
    history = [*(previous or {}).get("ConfigHistory", []), entry]
    # Older models are deleted once the new record is in place; their entries stay, pathless.
    # A rollback re-lists an older entry's model: a path a kept entry names is never stale.
    kept = {e.get("ModelPath") for e in history[-KEEP_MODELS:]}
    stale = [
        Path(e["ModelPath"])
        for e in history[:-KEEP_MODELS]
        if e.get("ModelPath") and e["ModelPath"] not in kept
    ]
    for old_entry in history[:-KEEP_MODELS]:
        if old_entry.get("ModelPath") not in kept:
            old_entry["ModelPath"] = None
    region, account = package.arn.split(":")[3:5]
    record = {
        "EndpointName": endpoint,
        "EndpointArn": f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}",
        "EndpointStatus": "InService",
        "EndpointConfigName": config,
        "PreviousEndpointConfigName": (previous or {}).get("EndpointConfigName"),
        "ModelPackageArn": package.arn,
        "ModelDataUrl": package.model_data_url,
        "ModelPath": str(model_path),
        "CreationTime": (previous or {}).get("CreationTime", now.isoformat()),
        "LastModifiedTime": now.isoformat(),
        "ConfigHistory": history,
    }
    local_endpoints.write(state, record)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return record


def roll_back_to(state: Path, endpoint: str, config: str | None) -> str:
    """Switch the record back to `config` (its unpacked model is kept: KEEP_MODELS), or remove
    the record when the endpoint had none before; one atomic write, as a deploy."""
    previous = local_endpoints.read(state, endpoint)
    if previous is None:
        return f"local endpoint {endpoint} does not exist; nothing to roll back"
    if not config:
        local_endpoints.record_path(state, endpoint).unlink()
        return f"local endpoint {endpoint} had no config before this deploy: removed it"
    history = previous.get("ConfigHistory", [])
    entry = next((e for e in reversed(history) if e.get("EndpointConfigName") == config), None)
    if entry is None or not entry.get("ModelPath") or not Path(entry["ModelPath"]).is_dir():
        raise JobError(f"cannot roll {endpoint} back to {config}: its model is no longer kept")
    now = datetime.now(UTC).isoformat()
    record = {
        **previous,
        "EndpointConfigName": config,
        "PreviousEndpointConfigName": previous.get("EndpointConfigName"),
        "ModelPackageArn": entry["ModelPackageArn"],
        "ModelDataUrl": entry.get("ModelDataUrl"),
        "ModelPath": entry["ModelPath"],
        "LastModifiedTime": now,
        "ConfigHistory": [*history, {**entry, "CreationTime": now, "RolledBack": True}],
    }
    local_endpoints.write(state, record)
    return f"local endpoint {endpoint} rolled back to {config}"
