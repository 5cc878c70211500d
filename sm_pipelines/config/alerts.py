"""Model of definitions/alerts.yaml: SNS topics and the pipeline events routed to them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EXECUTION_STATUSES = ("Executing", "Stopping", "Stopped", "Failed", "Succeeded")
STEP_STATUSES = ("Starting", "Executing", "Stopping", "Stopped", "Failed", "Succeeded")
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TopicSpec(Strict):
    display_name: str = Field(min_length=1, max_length=100)
    # SNS encrypts at rest with this KMS key; the AWS-managed key unless one is named.
    kms_master_key_id: str = "alias/aws/sns"


class RouteSpec(Strict):
    name: str = Field(max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1, max_length=512)
    topic: str
    event: Literal["execution-status", "step-status", "model-package-state", "custom"]
    statuses: list[str] = Field(default_factory=list)
    pipelines: list[str] | None = None  # None: every pipeline in definitions/pipelines
    enabled: bool = True
    # event: custom routes an application's own event (EventBridge source + detail-type), such
    # as the monitoring pipeline's quality drop. Its message is a template whose <name>
    # placeholders are fields of the event's detail (<a.b> for nested ones).
    source: str | None = Field(default=None, min_length=1, max_length=256)
    detail_type: str | None = Field(default=None, min_length=1, max_length=128)
    message: str | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _statuses(self) -> RouteSpec:
        custom_fields = ("source", "detail_type", "message")
        if self.event == "custom":
            missing = [name for name in custom_fields if getattr(self, name) is None]
            if missing:
                raise ValueError(f"a custom route needs {', '.join(missing)}")
            if self.statuses or self.pipelines is not None:
                raise ValueError("a custom route matches source and detail_type, not statuses")
            return self
        extra = [name for name in custom_fields if getattr(self, name) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} only apply to event: custom")
        if not self.statuses:
            raise ValueError(f"statuses: name at least one status for {self.event}")
        allowed = {
            "execution-status": EXECUTION_STATUSES,
            "step-status": STEP_STATUSES,
            "model-package-state": APPROVAL_STATUSES,
        }[self.event]
        for status in self.statuses:
            if status not in allowed:
                raise ValueError(
                    f"status {status!r} is not one of {', '.join(allowed)} for {self.event}"
                )
        if self.event == "model-package-state" and self.pipelines is not None:
            raise ValueError(
                "model-package-state routes follow the model package group, not pipelines"
            )
        return self


class AlertsConfig(Strict):
    topics: dict[str, TopicSpec] = Field(default_factory=dict)
    routes: list[RouteSpec] = Field(default_factory=list)
