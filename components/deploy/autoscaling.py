"""Target-tracking autoscaling of the endpoint's variant, configured by environment variables:

  AUTOSCALING_MIN_CAPACITY, AUTOSCALING_MAX_CAPACITY   instance bounds
  AUTOSCALING_TARGET_INVOCATIONS                       invocations per instance per minute
  AUTOSCALING_SCALE_IN_COOLDOWN, AUTOSCALING_SCALE_OUT_COOLDOWN   seconds (optional)

None set means no autoscaling; some but not all set is a mistake and stops the deploy before it
touches anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.common.job import JobError

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
REQUIRED = (
    "AUTOSCALING_MIN_CAPACITY",
    "AUTOSCALING_MAX_CAPACITY",
    "AUTOSCALING_TARGET_INVOCATIONS",
)


@dataclass(frozen=True)
class ScalingPolicy:
    min_capacity: int
    max_capacity: int
    target_invocations: float
    scale_in_cooldown: int = 300
    scale_out_cooldown: int = 60

    def clamp(self, count: int) -> int:
        return max(self.min_capacity, min(self.max_capacity, count))


def _number(env: Mapping[str, str], key: str, kind: type, default: Any = None) -> Any:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise JobError(f"{key}={raw!r} is not a valid {kind.__name__}") from None
    if value <= 0 and key != "AUTOSCALING_MIN_CAPACITY":
        raise JobError(f"{key} must be > 0, got {raw}")
    return value


def from_environment(env: Mapping[str, str] | None = None) -> ScalingPolicy | None:
    env = os.environ if env is None else env
    present = [key for key in REQUIRED if env.get(key, "").strip()]
    if not present:
        return None
    if len(present) != len(REQUIRED):
        missing = ", ".join(k for k in REQUIRED if k not in present)
        raise JobError(f"autoscaling is half configured: {missing} not set")
    policy = ScalingPolicy(
        min_capacity=_number(env, "AUTOSCALING_MIN_CAPACITY", int),
        max_capacity=_number(env, "AUTOSCALING_MAX_CAPACITY", int),
        target_invocations=_number(env, "AUTOSCALING_TARGET_INVOCATIONS", float),
        scale_in_cooldown=_number(env, "AUTOSCALING_SCALE_IN_COOLDOWN", int, 300),
        scale_out_cooldown=_number(env, "AUTOSCALING_SCALE_OUT_COOLDOWN", int, 60),
    )
    if not 1 <= policy.min_capacity <= policy.max_capacity:
        raise JobError(
            f"autoscaling needs 1 <= AUTOSCALING_MIN_CAPACITY ({policy.min_capacity}) <= "
            f"AUTOSCALING_MAX_CAPACITY ({policy.max_capacity})"
        )
    return policy


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def policy_name(endpoint: str) -> str:
    return f"{endpoint}-invocations-per-instance"


def apply(client: Any, endpoint: str, variant: str, policy: ScalingPolicy) -> None:
    resource = resource_id(endpoint, variant)
    client.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        MinCapacity=policy.min_capacity,
        MaxCapacity=policy.max_capacity,
    )
    client.put_scaling_policy(
        PolicyName=policy_name(endpoint),
        ServiceNamespace=NAMESPACE,
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": policy.target_invocations,
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleInCooldown": policy.scale_in_cooldown,
            "ScaleOutCooldown": policy.scale_out_cooldown,
        },
    )


def remove(client: Any, endpoint: str, variant: str) -> bool:
    """Deregister the variant (which drops its policies); False when it was not registered.

    SageMaker rejects an UpdateEndpoint that changes a scaled variant's instance type, so the
    deploy lifts scaling for the update and applies it again afterwards.
    """
    resource = resource_id(endpoint, variant)
    found = client.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[resource], ScalableDimension=DIMENSION
    ).get("ScalableTargets", [])
    if not found:
        return False
    client.deregister_scalable_target(
        ServiceNamespace=NAMESPACE, ResourceId=resource, ScalableDimension=DIMENSION
    )
    return True
