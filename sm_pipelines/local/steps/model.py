"""Model steps (CreateModel, as an SDK ModelStep with `create()` makes): the model recorded by
its job name under the state folder."""

from __future__ import annotations

from typing import Any

from sm_pipelines.local.job import JobContext
from sm_pipelines.local.job import evaluated_arguments as prepare
from sm_pipelines.local.state import write_json_atomic

__all__ = ["prepare", "run"]


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    name = ctx.job_name
    write_json_atomic(ctx.state.registry_dir.parent / "models" / f"{name}.json", arguments)
    return {**arguments, "ModelName": name, "ModelArn": ctx.arn("model", name)}
