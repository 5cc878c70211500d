"""Blue/green deployment of a model package version to a SageMaker endpoint.

Every deploy creates a new Model and a new EndpointConfig; the endpoint is created from them or
updated to them. The previous config is never deleted, so it is always there to roll back to.
A failure leaves the endpoint on what it ran before and removes what this deploy created.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from components.common.job import JobError
from components.common.model_registry import ModelPackage
from components.deploy import autoscaling

VARIANT = "AllTraffic"
SETTLED = ("InService", "Failed")
NAME_MAX = 63


@dataclass
class Deployer:
    sagemaker: Any
    scaling_client: Any
    timeout_seconds: float = 3600
    poll_seconds: float = 30
    bake_seconds: int = 300  # blue fleet kept this long after the switch, for a fast rollback
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    log: Callable[[str], None] = field(default=lambda line: print(f"deploy: {line}", flush=True))

    # ---- reading the endpoint -------------------------------------------------------------

    def describe(self, endpoint: str) -> dict[str, Any] | None:
        try:
            return self.sagemaker.describe_endpoint(EndpointName=endpoint)
        except ClientError as exc:
            if "Could not find endpoint" in str(exc) or _code(exc) == "ResourceNotFound":
                return None
            raise

    def wait(self, endpoint: str, gone_ok: bool = False) -> dict[str, Any] | None:
        """Poll until the endpoint settles (InService or Failed), or is gone if `gone_ok`."""
        deadline = self.clock() + self.timeout_seconds
        while True:
            described = self.describe(endpoint)
            if described is None:
                if gone_ok:
                    return None
                raise JobError(f"endpoint {endpoint} disappeared while waiting for it")
            if described["EndpointStatus"] in SETTLED and not gone_ok:
                return described
            if self.clock() >= deadline:
                status = described["EndpointStatus"]
                raise JobError(
                    f"endpoint {endpoint} is still {status} after {self.timeout_seconds:.0f} s"
                )
            self.sleep(self.poll_seconds)

    def live(self, endpoint: str) -> tuple[str | None, str | None]:
        """(model package ARN, endpoint config) the endpoint serves once it settles; (None,
        None) when there is no endpoint or it is Failed. Read from the config's model, whose
        container names the package: what a deploy (this job or another) last put there."""
        current = self.describe(endpoint)
        if current is not None and current["EndpointStatus"] not in SETTLED:
            self.log(f"endpoint {endpoint} is {current['EndpointStatus']}; waiting for it")
            current = self.wait(endpoint)
        if current is None or current["EndpointStatus"] != "InService":
            return None, None
        config_name = current["EndpointConfigName"]
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        variants = config.get("ProductionVariants") or [{}]
        model_name = variants[0].get("ModelName")
        if not model_name:
            return None, config_name
        model = self.sagemaker.describe_model(ModelName=model_name)
        containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
        arns = [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
        return (arns[0] if arns else None), config_name

    def roll_back_to(self, endpoint: str, config: str | None) -> str:
        """Put the endpoint back on `config` (blue/green kept it); with none, the endpoint was
        new, so it is removed rather than left serving what failed."""
        if not config:
            if self.describe(endpoint) is not None:
                self._delete_endpoint(endpoint)
            return f"endpoint {endpoint} had no config before this deploy: removed it"
        self.log(f"rolling endpoint {endpoint} back to {config}")
        try:
            self.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        except ClientError:
            # A Failed endpoint may refuse updates: recreate it from the old config instead.
            self._delete_endpoint(endpoint)
            self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        described = self.wait(endpoint)
        if described is None or described["EndpointStatus"] != "InService":
            reason = (described or {}).get("FailureReason", "no reason given")
            raise JobError(f"rolling {endpoint} back to {config} failed ({reason})")
        return f"endpoint {endpoint} rolled back to {config}"

    # ---- the deploy -----------------------------------------------------------------------

    def deploy(
        self,
        package: ModelPackage,
        endpoint: str,
        role_arn: str,
        instance_type: str,
        scaling: autoscaling.ScalingPolicy | None,
    ) -> str:
        current = self.describe(endpoint)
        if current is not None and current["EndpointStatus"] not in SETTLED:
            self.log(f"endpoint {endpoint} is {current['EndpointStatus']}; waiting for it")
            current = self.wait(endpoint)
        if current is not None and current["EndpointStatus"] == "Failed":
            self.log(
                f"endpoint {endpoint} is Failed from before ({current.get('FailureReason', '')}); "
                "replacing it"
            )
            self._delete_endpoint(endpoint)
            current = None
        count = self._instance_count(current, scaling)
        model, config = self._create_model_and_config(
            package, endpoint, role_arn, instance_type, count
        )
        if current is None:
            return self._create(endpoint, model, config, scaling)
        return self._update(endpoint, current, model, config, scaling)

    def _instance_count(
        self, current: dict[str, Any] | None, scaling: autoscaling.ScalingPolicy | None
    ) -> int:
        # The green fleet starts as large as the blue one serves today, so the switch does not
        # leave traffic on fewer instances than autoscaling had scaled up to.
        variants = (current or {}).get("ProductionVariants") or [{}]
        serving = int(variants[0].get("CurrentInstanceCount") or 0)
        wanted = serving or (scaling.min_capacity if scaling else 1)
        return scaling.clamp(wanted) if scaling else wanted

    def _create_model_and_config(
        self, package: ModelPackage, endpoint: str, role_arn: str, instance_type: str, count: int
    ) -> tuple[str, str]:
        suffix = f"v{package.version}-{self.now():%Y%m%d-%H%M%S}"
        name = f"{endpoint[: NAME_MAX - len(suffix) - 1]}-{suffix}"
        self.sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=role_arn,
            PrimaryContainer={"ModelPackageName": package.arn},
        )
        try:
            self.sagemaker.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[
                    {
                        "VariantName": VARIANT,
                        "ModelName": name,
                        "InstanceType": instance_type,
                        "InitialInstanceCount": count,
                    }
                ],
            )
        except ClientError:
            self._discard(None, name)
            raise
        self.log(f"created model and endpoint config {name} ({count} x {instance_type})")
        return name, name

    def _create(
        self, endpoint: str, model: str, config: str, scaling: autoscaling.ScalingPolicy | None
    ) -> str:
        self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        self.log(f"creating endpoint {endpoint} from {config}")
        try:
            described = self.wait(endpoint)
        except JobError as exc:
            raise JobError(f"{exc}; left it to finish (config {config})") from None
        if described["EndpointStatus"] != "InService":
            reason = described.get("FailureReason", "no reason given")
            self._delete_endpoint(endpoint)
            self._discard(config, model)
            raise JobError(
                f"endpoint {endpoint} failed to create ({reason}); removed it and its new "
                f"config {config}"
            )
        self._scale(endpoint, scaling)
        return f"created endpoint {endpoint} with {config}"

    def _update(
        self,
        endpoint: str,
        current: dict[str, Any],
        model: str,
        config: str,
        scaling: autoscaling.ScalingPolicy | None,
    ) -> str:
        old = current["EndpointConfigName"]
        if scaling is not None:
            autoscaling.remove(self.scaling_client, endpoint, VARIANT)
        try:
            self.sagemaker.update_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=config,
                RetainAllVariantProperties=False,
                DeploymentConfig=self._blue_green(),
            )
        except ClientError as exc:
            self._discard(config, model)
            self._scale(endpoint, scaling)
            raise JobError(f"cannot update endpoint {endpoint} to {config}: {exc}") from None
        self.log(f"updating endpoint {endpoint} blue/green: {old} -> {config}")
        try:
            described = self.wait(endpoint)
        except JobError as exc:
            # Mid-update nothing can be changed; SageMaker's blue/green timeout
            # (MaximumExecutionTimeoutInSeconds) sends traffic back to the old fleet.
            raise JobError(
                f"{exc}; SageMaker rolls back to {old} if the update times out"
            ) from None
        status, now_on = described["EndpointStatus"], described.get("EndpointConfigName")
        reason = described.get("FailureReason", "no reason given")
        if status == "InService" and now_on == config:
            self._scale(endpoint, scaling)
            return f"updated endpoint {endpoint} blue/green to {config} (kept {old} for rollback)"
        if status == "InService":
            # SageMaker's own blue/green guardrail already sent traffic back to the old fleet.
            self._discard(config, model)
            self._scale(endpoint, scaling)
            raise JobError(
                f"update of {endpoint} to {config} failed ({reason}); SageMaker kept it on {old}"
            )
        self._roll_back(endpoint, old, reason)
        self._discard(config, model)
        self._scale(endpoint, scaling)
        raise JobError(
            f"endpoint {endpoint} went Failed on {config} ({reason}); rolled back to {old}"
        )

    def _roll_back(self, endpoint: str, old: str, reason: str) -> None:
        self.log(f"endpoint {endpoint} is Failed ({reason}); rolling back to {old}")
        try:
            self.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=old)
        except ClientError:
            # A Failed endpoint may refuse updates: recreate it from the old config instead.
            self._delete_endpoint(endpoint)
            self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=old)
        described = self.wait(endpoint)
        if described["EndpointStatus"] != "InService":
            raise JobError(
                f"endpoint {endpoint} went Failed ({reason}) and rolling back to {old} failed "
                f"too ({described.get('FailureReason', 'no reason given')}); it needs attention"
            )

    def _blue_green(self) -> dict[str, Any]:
        return {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                "TerminationWaitInSeconds": self.bake_seconds,
                "MaximumExecutionTimeoutInSeconds": int(min(14400, max(600, self.timeout_seconds))),
            }
        }

    # ---- cleanup ----------------------------------------------------------------------------

    def _delete_endpoint(self, endpoint: str) -> None:
        self.sagemaker.delete_endpoint(EndpointName=endpoint)
        self.wait(endpoint, gone_ok=True)

    def _discard(self, config: str | None, model: str) -> None:
        """Remove what this deploy created; best effort, the failure being reported matters more."""
        calls = [("delete_endpoint_config", {"EndpointConfigName": config})] if config else []
        calls.append(("delete_model", {"ModelName": model}))
        for method, kwargs in calls:
            try:
                getattr(self.sagemaker, method)(**kwargs)
            except ClientError as exc:
                self.log(f"could not clean up ({method} {kwargs}): {exc}")

    def _scale(self, endpoint: str, scaling: autoscaling.ScalingPolicy | None) -> None:
        if scaling is None:
            return
        autoscaling.apply(self.scaling_client, endpoint, VARIANT, scaling)
        self.log(
            f"autoscaling {scaling.min_capacity}-{scaling.max_capacity} instances at "
            f"{scaling.target_invocations:g} invocations/instance"
        )


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")
