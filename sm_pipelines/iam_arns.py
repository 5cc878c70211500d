"""IAM building blocks: one environment's resource ARNs and the statements that name them.

A statement either names resources, or uses "Resource": "*" for an action in
WILDCARD_RESOURCE_ACTIONS: those AWS defines no resource type for. Nothing else may.
"""

from __future__ import annotations

from typing import Any

from sm_pipelines.config.environment import EnvironmentConfig, ImageSpec

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


class Arns:
    """ARNs of one environment's resources, in its partition, region and account."""

    def __init__(self, env: EnvironmentConfig) -> None:
        self.env = env
        self.partition = env.role_arn.split(":")[1]

    def arn(self, service: str, resource: str, region: str | None = None, account: str = "") -> str:
        where = self.env.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{account or self.env.account_id}:{resource}"

    def sagemaker(self, kind: str, name: str) -> str:
        # SageMaker writes resource names into ARNs in lower case.
        return self.arn("sagemaker", f"{kind}/{name.lower()}")

    def pipeline(self, name: str) -> str:
        return self.sagemaker("pipeline", name)

    def role(self, name: str) -> str:
        return self.arn("iam", f"role/{name}", region="")

    def oidc_provider(self, host: str) -> str:
        return self.arn("iam", f"oidc-provider/{host}", region="")

    def bucket(self) -> str:
        return f"arn:{self.partition}:s3:::{self.env.bucket}"

    def objects(self, *parts: str) -> str:
        """Every object under the environment's prefix (and `parts` below it)."""
        return "/".join([self.bucket(), self.env.prefix, *parts, "*"])

    def repository(self, name: str, account: str = "") -> str:
        return self.arn("ecr", f"repository/{name}", account=account)

    def log_group(self, name: str) -> list[str]:
        # CreateLogGroup names the group itself; its streams and events are `<group>:*`.
        group = self.arn("logs", f"log-group:{name}")
        return [group, f"{group}:*"]

    def secret(self, secret_id: str) -> str:
        # Secrets Manager ends every secret ARN with '-' and six random characters; `??????`
        # matches exactly those, so `db` cannot also grant `db-admin`.
        return self.arn("secretsmanager", f"secret:{secret_id}-??????")

    def parameter(self, name: str) -> str:
        return self.arn("ssm", f"parameter/{name.lstrip('/')}")

    def function_log_group(self, function_arn: str) -> list[str]:
        return self.log_group(f"/aws/lambda/{function_arn.split(':function:')[1].split(':')[0]}")

    def image_repository(self, spec: ImageSpec) -> str | None:
        """The ECR repository an image is pulled from; None for an image outside ECR."""
        if spec.repository is not None:
            return self.repository(spec.repository)
        host, _, path = (spec.uri or "").partition("/")
        labels = host.split(".")  # <account>.dkr.ecr.<region>.amazonaws.com
        if len(labels) < 5 or labels[1:3] != ["dkr", "ecr"] or not path:
            return None
        name = path.split("@")[0].rsplit(":", 1)[0]
        return self.arn("ecr", f"repository/{name}", region=labels[3], account=labels[0])


def name_prefix(env: EnvironmentConfig) -> str:
    """The first segment of the environment's S3 prefix (`llm-twin`), which the names of the
    topics, alert rules and roles made around the pipelines start with."""
    return env.prefix.split("/")[0]


def role_names(env: EnvironmentConfig) -> dict[str, str]:
    return {
        "pipeline_execution": env.role_arn.rsplit("/", 1)[-1],
        "eventbridge": f"{name_prefix(env)}-{env.name}-eventbridge",
        "cd_deploy": f"{name_prefix(env)}-{env.name}-github-deploy",
    }
