"""Lambda steps: the handler named for the function in the local environment, run in process."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from sm_pipelines.local.execution import EXECUTING, list_executions
from sm_pipelines.local.job import JobContext, StepFailure


class LocalLambdaContext:
    """The Lambda context object, plus what AWS would answer about this pipeline's executions
    (a handler that sees `list_pipeline_executions` asks it instead of SageMaker)."""

    def __init__(self, ctx: JobContext, function_name: str) -> None:
        self._ctx = ctx
        self.function_name = function_name
        self.aws_request_id = f"{ctx.execution_id}-{ctx.step}-{ctx.attempt}"
        # Handlers run in this process, so they cannot find the state through the variable the
        # executor sets for job subprocesses.
        self.local_state = ctx.state.root

    def get_remaining_time_in_millis(self) -> int:
        return 900_000

    def list_pipeline_executions(self, pipeline: str) -> list[dict[str, Any]]:
        return [
            {
                "PipelineExecutionArn": execution.arn,
                "PipelineExecutionStatus": execution.status,
                "StartTime": execution.start,
            }
            for execution in list_executions(self._ctx.state)
            if execution.pipeline == pipeline and execution.status == EXECUTING
        ]


def prepare(raw: dict[str, Any], scope: Any) -> dict[str, Any]:
    """A Lambda step keeps its function and outputs beside Arguments (its inputs)."""
    return {
        "FunctionArn": raw.get("FunctionArn", ""),
        "OutputParameters": raw.get("OutputParameters", []),
        "Arguments": scope.evaluate(raw.get("Arguments", {})),
    }


def _found_in(cwd: Path, name: str) -> str | None:
    """A handler beside the definition, as a Lambda's own package would have it: `<name>.py`
    (dashes as underscores) or `lambda_function.py` (the console's default), with
    `lambda_handler` or `handler`."""
    for module in (name.replace("-", "_"), "lambda_function"):
        path = cwd / f"{module}.py"
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for attribute in ("lambda_handler", "handler"):
            if f"def {attribute}(" in text:
                return f"{module}:{attribute}"
    return None


def _load(cwd: Path, target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if str(cwd) not in sys.path:
        sys.path.insert(0, str(cwd))
    return getattr(importlib.import_module(module_name), attribute or "handler")


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    arn = arguments.get("FunctionArn", "")
    name = arn.split(":")[6] if arn.count(":") >= 6 else arn
    target = ctx.lambdas.get(name) or ctx.lambdas.get(arn) or _found_in(ctx.cwd, name)
    if not target:
        raise StepFailure(
            f"ClientError: no local handler for Lambda {name!r}: put {name.replace('-', '_')}.py "
            "or lambda_function.py (with lambda_handler) in the working folder, or map it under "
            "local.lambdas (function name: module:function)"
        )
    try:
        handler = _load(ctx.cwd, target)
    except (ImportError, AttributeError, SyntaxError) as exc:
        raise StepFailure(f"ClientError: Lambda {name}: cannot load {target}: {exc}") from None
    try:
        result = handler(arguments.get("Arguments", {}), LocalLambdaContext(ctx, name))
    except Exception as exc:  # the handler's own failure is the step's failure
        raise StepFailure(f"Lambda {name} raised {type(exc).__name__}: {exc}") from None
    # In AWS the answer is in the function's CloudWatch logs; here `logs <execution> <step>`.
    ctx.log_file.parent.mkdir(parents=True, exist_ok=True)
    with ctx.log_file.open("a", encoding="utf-8") as log:
        log.write(f"Lambda {name} ({target}) returned {json.dumps(result, default=str)}\n")
    outputs = []
    for output in arguments.get("OutputParameters", []):
        key = output["OutputName"]
        if not isinstance(result, dict) or key not in result:
            raise StepFailure(f"Lambda {name} returned no output {key!r}")
        outputs.append({"Name": key, "Value": result[key]})
    return {**arguments, "OutputParameters": outputs}
