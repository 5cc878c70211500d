"""Model of definitions/pipelines/<pipeline>.yaml: parameters, steps, triggers."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from sm_pipelines import limits
from sm_pipelines.config.triggers import TriggerSpec
from sm_pipelines.config.values import parse_value

_ISO_DURATION = r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"
_COMPONENT = r"^[a-z][a-z0-9_]*$"

ValueField = Annotated[Any, BeforeValidator(parse_value)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParameterSpec(Strict):
    type: Literal["string", "integer", "float", "boolean"]
    description: str = Field(min_length=1, max_length=4096)
    default: str | int | float | bool | None = None
    enum: list[str] | None = None

    @model_validator(mode="after")
    def _default_matches_type(self) -> ParameterSpec:
        if self.default is not None:
            problem = type_problem(self.type, self.default)
            if problem:
                raise ValueError(f"default {problem}")
        if self.enum is not None:
            if self.type != "string":
                raise ValueError("'enum' is only allowed for string parameters")
            if self.default is not None and self.default not in self.enum:
                raise ValueError(f"default {self.default!r} is not one of enum {self.enum}")
        return self


def type_problem(kind: str, value: Any) -> str | None:
    """Why `value` cannot be a value of a parameter of type `kind`, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number (SageMaker takes none)"
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }[kind]
    article = "an" if kind == "integer" else "a"
    return None if ok else f"{value!r} is not {article} {kind}"


class RetrySpec(Strict):
    """Retry policy for a job step: SageMaker job faults and step-level service faults."""

    max_attempts: int = Field(ge=1, le=limits.RETRY_MAX_ATTEMPTS)
    interval_seconds: int = Field(default=30, ge=1, le=3600)
    backoff_rate: float = Field(default=2.0, ge=1.0, le=10.0)
    retry_on: list[
        Literal["capacity", "internal", "resource_limit", "throttling", "service_fault"]
    ] = Field(default_factory=lambda: ["capacity", "internal", "throttling", "service_fault"])


class Defaults(Strict):
    retry: RetrySpec | None = None
    cache_expire_after: str = "P30D"

    @field_validator("cache_expire_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.match(_ISO_DURATION, value):
            raise ValueError(f"{value!r} is not an ISO 8601 duration (for example P30D or PT12H)")
        return value


class StepBase(Strict):
    name: str = Field(max_length=limits.STEP_NAME_MAX, pattern=limits.STEP_NAME_PATTERN)
    display_name: str = Field(max_length=64, pattern=limits.STEP_DISPLAY_NAME_PATTERN)
    description: str = Field(min_length=1, max_length=limits.DESCRIPTION_MAX)
    depends_on: list[str] = Field(default_factory=list)


class JobStep(StepBase):
    """Fields shared by steps that start a SageMaker job."""

    component: str = Field(pattern=_COMPONENT)
    image: str
    instance_type: str
    instance_count: int = Field(default=1, ge=1, le=100)
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=86400, ge=60, le=28 * 86400)
    environment: dict[str, ValueField] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list)
    cache: bool = False
    retry: RetrySpec | None = None

    @field_validator("environment")
    @classmethod
    def _env_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"{key!r} is not an environment variable name")
        return value


class OutputSpec(Strict):
    """Where an output lands: s3://<bucket>/<prefix>/<pipeline>/<step>/<key>/<output>."""

    key: ValueField = None


class PropertyFileSpec(Strict):
    output: str
    path: str = Field(min_length=1)


class ProcessingStepSpec(JobStep):
    kind: Literal["processing"]
    image: str = "processing"
    instance_type: str = "processing"
    arguments: list[ValueField] = Field(default_factory=list)
    inputs: dict[str, ValueField] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec] = Field(default_factory=dict)
    property_files: dict[str, PropertyFileSpec] = Field(default_factory=dict)


class MetricDefinition(Strict):
    name: str = Field(min_length=1, max_length=255)
    regex: str = Field(min_length=1, max_length=500)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from None
        return value


class TrainingStepSpec(JobStep):
    kind: Literal["training"]
    image: str = "training"
    instance_type: str = "training"
    inputs: dict[str, ValueField] = Field(default_factory=dict)
    hyperparameters: dict[str, ValueField] = Field(default_factory=dict)
    metric_definitions: list[MetricDefinition] = Field(default_factory=list)
    max_wait_seconds: int = Field(default=2 * 86400, ge=60, le=28 * 86400)
    checkpoints: bool = True


class MetricsSpec(Strict):
    """The evaluation report attached to a registered model version."""

    report: ValueField
    content_type: str = "application/json"


class RegisterStepSpec(StepBase):
    kind: Literal["register"]
    model_data: ValueField
    image: str = "serving"
    inference_instance_types: list[str] = Field(default_factory=lambda: ["serving"], min_length=1)
    content_types: list[str] = Field(default_factory=lambda: ["application/json"], min_length=1)
    response_types: list[str] = Field(default_factory=lambda: ["application/json"], min_length=1)
    approval_status: ValueField
    metrics: MetricsSpec | None = None
    environment: dict[str, ValueField] = Field(default_factory=dict)
    model_package_description: str | None = None
    # CreateModelPackage's CustomerMetadataProperties: key -> value (a literal or a reference,
    # e.g. a JsonGet of the evaluation report), shown by Studio and `sm-pipelines models`.
    customer_metadata: dict[str, ValueField] = Field(default_factory=dict, max_length=50)
    retry: RetrySpec | None = None

    @field_validator("customer_metadata")
    @classmethod
    def _metadata_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        # CreateModelPackage's own constraint on the keys (values are checked at run time).
        for key in value:
            if not 1 <= len(key) <= 128 or not re.match(r"^[\w\s.:/=+\-@]*$", key):
                raise ValueError(
                    f"{key!r} is not a CustomerMetadataProperties key (1-128 letters, digits, "
                    "spaces and _.:/=+-@)"
                )
        return value


class Comparison(Strict):
    left: ValueField
    op: Literal["==", "!=", ">", ">=", "<", "<="]
    right: ValueField


class InCondition(Strict):
    value: ValueField
    in_: list[ValueField] = Field(alias="in", min_length=1)


class NotCondition(Strict):
    not_: ConditionSpec = Field(alias="not")


class OrCondition(Strict):
    or_: list[ConditionSpec] = Field(alias="or", min_length=2)


def _condition_kind(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for key, tag in (("not", "not"), ("or", "or"), ("in", "in"), ("op", "comparison")):
            if key in raw:
                return tag
        if "left" in raw or "right" in raw:
            return "comparison"
        return None
    return type(raw).__name__.removesuffix("Condition").lower() or None


ConditionSpec = Annotated[
    Union[  # noqa: UP007
        Annotated[Comparison, Tag("comparison")],
        Annotated[InCondition, Tag("in")],
        Annotated[NotCondition, Tag("not")],
        Annotated[OrCondition, Tag("or")],
    ],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_shape",
        custom_error_message="expected {left, op, right}, {value, in}, {not} or {or}",
    ),
]


class ConditionStepSpec(StepBase):
    kind: Literal["condition"]
    conditions: list[ConditionSpec] = Field(min_length=1)
    if_steps: list[str] = Field(default_factory=list)
    else_steps: list[str] = Field(default_factory=list)


class LambdaStepSpec(StepBase):
    """A Lambda function deployed by upsert as <function>-<environment>; locally its handler
    runs in process."""

    kind: Literal["lambda"]
    function: str = Field(max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")
    handler: str = Field(pattern=r"^components(\.[a-z_][a-z0-9_]*)+:[a-z_][a-z0-9_]*$")
    inputs: dict[str, ValueField] = Field(default_factory=dict)
    outputs: dict[str, Literal["String", "Integer", "Float", "Boolean"]] = Field(
        default_factory=dict
    )
    timeout_seconds: int = Field(default=60, ge=1, le=900)


class FailStepSpec(StepBase):
    kind: Literal["fail"]
    error_message: ValueField


StepSpec = Annotated[
    Union[  # noqa: UP007
        ProcessingStepSpec,
        TrainingStepSpec,
        RegisterStepSpec,
        ConditionStepSpec,
        LambdaStepSpec,
        FailStepSpec,
    ],
    Field(discriminator="kind"),
]


class PipelineConfig(Strict):
    name: str = Field(max_length=limits.PIPELINE_NAME_MAX, pattern=limits.PIPELINE_NAME_PATTERN)
    display_name: str = Field(
        max_length=limits.PIPELINE_DISPLAY_NAME_MAX, pattern=limits.PIPELINE_DISPLAY_NAME_PATTERN
    )
    description: str = Field(min_length=1, max_length=limits.DESCRIPTION_MAX)
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    steps: list[StepSpec] = Field(min_length=1)
    triggers: list[TriggerSpec] = Field(default_factory=list)

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: dict[str, ParameterSpec]) -> dict[str, ParameterSpec]:
        for key in value:
            if len(key) > limits.PARAMETER_NAME_MAX or not re.match(
                limits.PARAMETER_NAME_PATTERN, key
            ):
                raise ValueError(f"parameter name {key!r} must be 1-64 of A-Z a-z 0-9 - _")
        return value

    def step(self, name: str) -> Any:
        return next((s for s in self.steps if s.name == name), None)


NotCondition.model_rebuild()
OrCondition.model_rebuild()
