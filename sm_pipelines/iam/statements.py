"""IAM building blocks: statements that name resources, and the few actions that cannot.

A statement either names resources, or uses "Resource": "*" for an action in
WILDCARD_RESOURCE_ACTIONS: those AWS defines no resource type for. Nothing else may.
"""

from __future__ import annotations

from typing import Any

Policy = dict[str, Any]
Statement = dict[str, Any]

VERSION = "2012-10-17"
# Registry of the AWS Deep Learning Containers that containers/*/Dockerfile build on (the same
# account in most regions; aws/deep-learning-containers' available_images.md lists exceptions).
DLC_ACCOUNT = "763104351884"
BASE_IMAGE_REPOSITORIES = (
    "huggingface-pytorch-inference",
    "huggingface-pytorch-training",
    "pytorch-training",
)

# The only actions allowed "Resource": "*", each with the reason it cannot name a resource.
WILDCARD_RESOURCE_ACTIONS: dict[str, str] = {
    "ecr:GetAuthorizationToken": "a registry login token; the pulls and pushes are per repository",
    "cloudwatch:PutMetricData": "metrics have no ARN; limited by a cloudwatch:namespace condition",
    "sagemaker:ListModelPackages": "a List call; evaluate reads the champion of its own group",
    "application-autoscaling:DescribeScalableTargets": "a Describe call; deploy reads its target",
    "application-autoscaling:DescribeScalingPolicies": "a Describe call; deploy reads its policy",
    "events:ListRules": "a List call; upsert finds its own rules among them by tag",
    "sns:ListTopics": "a List call; upsert finds its own topics among them by tag",
    "lambda:ListFunctions": "a List call; upsert finds its own functions among them by tag",
}


def allow(
    sid: str, actions: list[str], resources: list[str], condition: Policy | None = None
) -> Statement:
    if not resources:
        raise ValueError(f"statement {sid} names no resource")
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": sorted(set(resources)),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def allow_unscoped(sid: str, actions: list[str], condition: Policy | None = None) -> Statement:
    unknown = sorted(a for a in actions if a not in WILDCARD_RESOURCE_ACTIONS)
    if unknown:
        raise ValueError(f"{unknown} support resource ARNs; name them instead of '*'")
    statement = allow(sid, actions, ["*"], condition)
    statement["Resource"] = "*"
    return statement


def policy(statements: list[Statement]) -> Policy:
    return {"Version": VERSION, "Statement": statements}
