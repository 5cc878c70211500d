"""Every AWS name and ARN sm-pipelines makes, in one place and in the right partition.

An ARN's partition is not always `aws`: GovCloud regions (`us-gov-west-1`) are `aws-us-gov`
and the China regions (`cn-north-1`) are `aws-cn`, with their own DNS suffix and console host.
The region decides the partition, and `arn()` is the only place an ARN is spelled, so nothing
else can write `arn:aws:` for an account that lives elsewhere. The names of the resources made
around the pipelines (rules, topics, roles, Lambda functions) are here too, because the IAM
policies, the rules, upsert, teardown and the name-length checks must all agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sm_pipelines.config.environment import EnvironmentConfig, ImageSpec


@dataclass(frozen=True)
class Partition:
    name: str
    dns_suffix: str
    console_host: str


AWS = Partition("aws", "amazonaws.com", "<region>.console.aws.amazon.com")
# Region name prefixes of the partitions other than `aws`.
_PARTITIONS = {
    "cn-": Partition("aws-cn", "amazonaws.com.cn", "console.amazonaws.cn"),
    "us-gov-": Partition("aws-us-gov", "amazonaws.com", "console.amazonaws-us-gov.com"),
}
# SageMaker Pipelines names the jobs it starts `pipelines-<execution>-<step>-<suffix>`.
JOB_PREFIX = "pipelines-"


def partition_for(region: str) -> Partition:
    """The partition a region belongs to."""
    return next((p for prefix, p in _PARTITIONS.items() if region.startswith(prefix)), AWS)


def arn(service: str, region: str, account: str, resource: str) -> str:
    """The ARN of a regional `resource`, in the partition of `region`."""
    return arn_in(partition_for(region).name, service, region, account, resource)


def arn_in(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def arn_partition(value: str) -> str:
    """The partition an ARN names (`arn:<partition>:...`)."""
    return value.split(":")[1] if value.count(":") >= 5 else ""


def sagemaker_arn(region: str, account: str, kind: str, name: str) -> str:
    # SageMaker writes resource names into ARNs in lower case.
    return arn("sagemaker", region, account, f"{kind}/{name.lower()}")


class Names:
    """Names and ARNs of one environment's resources, in its partition, region and account."""

    def __init__(self, env: EnvironmentConfig) -> None:
        self.env = env
        self.partition = partition_for(env.region)

    # -- ARNs -----------------------------------------------------------------------------
    def arn(self, service: str, resource: str, region: str | None = None, account: str = "") -> str:
        where = self.env.region if region is None else region
        return arn_in(self.partition.name, service, where, account or self.env.account_id, resource)

    def sagemaker(self, kind: str, name: str) -> str:
        return sagemaker_arn(self.env.region, self.env.account_id, kind, name)

    def pipeline(self, name: str) -> str:
        return self.sagemaker("pipeline", name)

    def role(self, name: str) -> str:
        return self.arn("iam", f"role/{name}", region="")

    def account_root(self) -> str:
        return self.arn("iam", "root", region="")

    def oidc_provider(self, host: str) -> str:
        return self.arn("iam", f"oidc-provider/{host}", region="")

    def bucket(self) -> str:
        return arn_in(self.partition.name, "s3", "", "", self.env.bucket)

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

    def image_uri(self, key: str) -> str:
        """The URI of the environment's image `key`: as given, or in the account's ECR."""
        spec = self.env.images[key]
        if spec.uri is not None:
            return spec.uri
        host = f"{self.env.account_id}.dkr.ecr.{self.env.region}.{self.partition.dns_suffix}"
        return f"{host}/{spec.repository}:{spec.tag}"

    # -- resources made around the pipelines ------------------------------------------------
    @property
    def prefix(self) -> str:
        """The first segment of the environment's S3 prefix (`llm-twin`), which the names of
        the topics, alert rules, roles and Lambda steps made around the pipelines start with."""
        return self.env.prefix.split("/")[0]

    def lambda_function(self, function: str) -> str:
        return f"{function}-{self.env.name}"

    def lambda_arn(self, function: str) -> str:
        return self.arn("lambda", f"function:{self.lambda_function(function)}")

    def topic(self, topic: str) -> str:
        return f"{self.env.prefix}-{topic}-{self.env.name}"

    def topic_arn(self, topic: str) -> str:
        return self.arn("sns", self.topic(topic))

    def trigger_rule(self, pipeline: str, trigger: str) -> str:
        return f"{pipeline}-{trigger}-{self.env.name}"

    def alert_rule(self, route: str) -> str:
        return f"{self.env.prefix}-alert-{route}-{self.env.name}"

    def roles(self) -> dict[str, str]:
        return {
            "pipeline_execution": self.env.role_arn.rsplit("/", 1)[-1],
            "eventbridge": f"{self.prefix}-{self.env.name}-eventbridge",
            "cd_deploy": f"{self.prefix}-{self.env.name}-github-deploy",
        }

    def events_role(self) -> str:
        return self.roles()["eventbridge"]

    def events_role_arn(self) -> str:
        return self.role(self.events_role())

    def console(self, path: str) -> str:
        """A console link; `<region>` is filled in by EventBridge's input transformer."""
        return f"https://{self.partition.console_host}/{path}"
