"""Pipeline parameters that carry their description into the definition.

SageMaker's definition schema has `Description` on parameters, but the SDK's classes never emit
it; these subclasses add it so the Studio pipeline view can show what a parameter means.
"""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.parameters import (
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    ParameterTypeEnum,
)

from sm_pipelines.config.pipeline import ParameterSpec


def _with_description(request: dict[str, Any], description: str) -> dict[str, Any]:
    if description:
        request["Description"] = description
    return request


class DescribedString(ParameterString):
    description = ""

    def to_request(self) -> dict[str, Any]:
        return _with_description(super().to_request(), self.description)


class DescribedInteger(ParameterInteger):
    description = ""

    def to_request(self) -> dict[str, Any]:
        return _with_description(super().to_request(), self.description)


class DescribedFloat(ParameterFloat):
    description = ""

    def to_request(self) -> dict[str, Any]:
        return _with_description(super().to_request(), self.description)


class DescribedBoolean(Parameter):
    """The SDK's ParameterBoolean is a functools.partial of Parameter, so subclass Parameter."""

    description = ""

    def __init__(self, name: str, default_value: bool | None = None) -> None:
        super().__init__(
            name=name, parameter_type=ParameterTypeEnum.BOOLEAN, default_value=default_value
        )

    def to_request(self) -> dict[str, Any]:
        return _with_description(super().to_request(), self.description)


def build_parameter(name: str, spec: ParameterSpec, default: Any) -> Parameter:
    """An SDK parameter for `spec`, with `default` (the environment's override, if any)."""
    if spec.type == "string":
        parameter: Parameter = DescribedString(
            name=name, default_value=default, enum_values=spec.enum
        )
    elif spec.type == "integer":
        parameter = DescribedInteger(name=name, default_value=default)
    elif spec.type == "float":
        parameter = DescribedFloat(
            name=name, default_value=None if default is None else float(default)
        )
    else:
        parameter = DescribedBoolean(name=name, default_value=default)
    parameter.description = spec.description
    return parameter
