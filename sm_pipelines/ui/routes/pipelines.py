"""GET /api/pipelines, GET /api/pipelines/{name}, POST /api/pipelines/{name}/runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sm_pipelines.definition.document import compiled_path
from sm_pipelines.errors import UserError
from sm_pipelines.local.plan import read_definition
from sm_pipelines.ui import pipelines
from sm_pipelines.ui.routes import deps

router = APIRouter(prefix="/api/pipelines")


class RunRequest(BaseModel):
    # Values as `--param Name=Value` takes them; the definition types them.
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)


@router.get("")
def list_pipelines(source: deps.Source) -> dict[str, Any]:
    return {
        "env": source.env,
        "pipelines": [
            pipelines.pipeline_summary(source, name) for name in pipelines.pipeline_names(source)
        ],
        "definitions_problem": source.definitions_problem,
    }


@router.get("/{name}")
def get_pipeline(name: str, source: deps.Source) -> dict[str, Any]:
    return pipelines.pipeline_detail(source, name)


def _text(value: str | int | float | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@router.post("/{name}/runs", status_code=202)
def start_run(
    name: str,
    body: RunRequest,
    source: deps.Source,
    actions: deps.Commands,
) -> Any:
    pipelines.pipeline_summary(source, name)  # 404 for an unknown pipeline
    values = {k: _text(v) for k, v in body.parameters.items()}
    try:
        # The check the CLI makes first, so a bad value is a 422 now, not a failed action later.
        read_definition(compiled_path(source.definitions_dir, source.env, name)).typed_parameters(
            values
        )
    except UserError as exc:
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=422)
    return actions.describe(actions.run(name, values).id)
