"""What starts a pipeline: schedules, new objects under a raw-data prefix, custom events, and a
model version of the environment's group changing its approval status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sm_pipelines.config.schedule import schedule_problem

TRIGGER_NAME = r"^[a-z0-9][a-z0-9-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TriggerBase(Strict):
    name: str = Field(max_length=40, pattern=TRIGGER_NAME)
    description: str = Field(min_length=1, max_length=512)
    enabled: bool = True
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)


class ScheduleTrigger(TriggerBase):
    kind: Literal["schedule"]
    expression: str

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        problem = schedule_problem(value)
        if problem:
            raise ValueError(f"bad schedule {value!r}: {problem}")
        return value


class NewDataTrigger(TriggerBase):
    """S3 `Object Created` events (EventBridge notifications on) under a prefix of the bucket."""

    kind: Literal["s3-object-created"]
    prefix: str = Field(min_length=1, pattern=r"^[^/].*/$")
    suffix: str | None = None


class EventTrigger(TriggerBase):
    """A custom event on the default bus, such as the monitoring pipeline's quality drop."""

    kind: Literal["event"]
    source: str = Field(min_length=1, max_length=256)
    detail_type: str = Field(min_length=1, max_length=128)
    detail: dict[str, Any] | None = None


# EventBridge's dynamic path parameters: the whole value is a JSON path into the event, in dot
# notation (no brackets, no wildcards).
EVENT_PATH = r"^\$\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")


class ModelPackageTrigger(TriggerBase):
    """`SageMaker Model Package State Change` for a version of the environment's model package
    group reaching one of `statuses` (a person approving or rejecting it, or a registration).
    `event_parameters` pass fields of the event as pipeline parameters: the target's
    SageMakerPipelineParameters take the JSON path as the value, and EventBridge replaces it
    with the event's field when it starts the pipeline (dynamic path parameters; an
    InputTransformer's output is not what a SageMaker pipeline target reads)."""

    kind: Literal["model-package-state"]
    statuses: list[Literal["Approved", "Rejected", "PendingManualApproval"]] = Field(min_length=1)
    event_parameters: dict[str, Annotated[str, Field(pattern=EVENT_PATH)]] = Field(
        default_factory=dict
    )


TriggerSpec = Annotated[
    ScheduleTrigger | NewDataTrigger | EventTrigger | ModelPackageTrigger,
    Field(discriminator="kind"),
]
