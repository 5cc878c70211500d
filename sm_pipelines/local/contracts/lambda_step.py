"""Lambda steps: the handler named for the function in the local environment, run in process."""

from __future__ import annotations

import importlib
from typing import Any

from sm_pipelines.local.contracts.base import JobContext, StepFailure


def run_lambda(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    arn = arguments.get("FunctionArn", "")
    name = arn.split(":")[6] if arn.count(":") >= 6 else arn
    target = ctx.lambdas.get(name) or ctx.lambdas.get(arn)
    if not target:
        raise StepFailure(
            f"ClientError: no local handler for Lambda {name!r}; map it in the local "
            "environment under local.lambdas (function name: module:function)"
        )
    module_name, _, attribute = target.partition(":")
    try:
        handler = getattr(importlib.import_module(module_name), attribute or "handler")
    except (ImportError, AttributeError) as exc:
        raise StepFailure(f"ClientError: Lambda {name}: cannot load {target}: {exc}") from None
    try:
        result = handler(arguments.get("Arguments", {}), None)
    except Exception as exc:  # the handler's own failure is the step's failure
        raise StepFailure(f"Lambda {name} raised {type(exc).__name__}: {exc}") from None
    outputs = []
    for output in arguments.get("OutputParameters", []):
        key = output["OutputName"]
        if not isinstance(result, dict) or key not in result:
            raise StepFailure(f"Lambda {name} returned no output {key!r}")
        outputs.append({"Name": key, "Value": result[key]})
    return {**arguments, "OutputParameters": outputs}
