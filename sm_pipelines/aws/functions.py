"""Lambda functions behind the pipelines' Lambda steps, deployed from components/ by content."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from typing import Any

from sm_pipelines.aws.changes import Change
from sm_pipelines.aws.clients import aws_errors
from sm_pipelines.aws.tags import is_managed
from sm_pipelines.compile.bundle import CodeBundle
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.naming import Names
from sm_pipelines.config.pipeline import LambdaStepSpec

RUNTIME = "python3.11"


def function_zip(bundle: CodeBundle) -> bytes:
    """The bundle as a zip that is byte-identical for identical files (fixed times, order)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in bundle.files:
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def lambda_handler(handler: str) -> str:
    """`components.guard.handler:handle` -> Lambda's `components/guard/handler.handle`."""
    module, _, function = handler.partition(":")
    return module.replace(".", "/") + "." + function


def declared_functions(definitions: Definitions) -> list[LambdaStepSpec]:
    return [
        step
        for pipeline in definitions.pipelines.values()
        for step in pipeline.steps
        if isinstance(step, LambdaStepSpec)
    ]


def managed_functions(lam: Any, env: EnvironmentConfig) -> dict[str, str]:
    found = {}
    with aws_errors("lambda list_functions"):
        for page in lam.get_paginator("list_functions").paginate():
            for function in page.get("Functions", []):
                tags = lam.list_tags(Resource=function["FunctionArn"]).get("Tags", {})
                if is_managed(tags, env):
                    found[function["FunctionName"]] = function["FunctionArn"]
    return found


def apply_functions(
    lam: Any,
    definitions: Definitions,
    env: EnvironmentConfig,
    bundle: CodeBundle,
    tags: dict[str, str],
) -> list[Change]:
    changes = []
    code = function_zip(bundle)
    digest = base64.b64encode(hashlib.sha256(code).digest()).decode()
    role = env.lambda_role_arn or env.role_arn
    desired_names = set()
    for step in declared_functions(definitions):
        name = Names(env).lambda_function(step.function)
        desired_names.add(name)
        config = {
            "Runtime": RUNTIME,
            "Role": role,
            "Handler": lambda_handler(step.handler),
            "Timeout": step.timeout_seconds,
        }
        with aws_errors(f"lambda function {name}"):
            try:
                current = lam.get_function(FunctionName=name)["Configuration"]
            except lam.exceptions.ResourceNotFoundException:
                current = None
            if current is None:
                lam.create_function(
                    FunctionName=name,
                    Code={"ZipFile": code},
                    Description=step.description,
                    Tags=tags,
                    **config,
                )
                changes.append(Change("function", name, "created"))
                continue
            differences = [key for key, value in config.items() if current.get(key) != value]
            if differences:
                lam.update_function_configuration(FunctionName=name, **config)
            if current.get("CodeSha256") != digest:
                lam.update_function_code(FunctionName=name, ZipFile=code)
                differences.append("code")
            state = "updated" if differences else "unchanged"
            changes.append(Change("function", name, state, ", ".join(differences)))
    for name in sorted(set(managed_functions(lam, env)) - desired_names):
        with aws_errors(f"lambda delete_function {name}"):
            lam.delete_function(FunctionName=name)
        changes.append(Change("function", name, "deleted"))
    return changes
