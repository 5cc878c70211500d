"""Model of definitions/environments/<env>.yaml: where and with what a pipeline runs."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sm_pipelines import limits

_ACCOUNT = r"^\d{12}$"
_REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]+$"
_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_INSTANCE = r"^(ml\.[a-z0-9]+\.[a-z0-9]+|local)$"
_ENV_VAR = r"^[A-Z_][A-Z0-9_]*$"
# GitHub: owner is 1-39 letters, digits and hyphens; the repository name 1-100 of [A-Za-z0-9._-].
_GITHUB_REPOSITORY = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"


# What each pattern means, so an error says what was expected rather than quoting a regex.
PATTERN_HINTS = {
    _ACCOUNT: "a 12-digit AWS account id in quotes",
    _REGION: "an AWS region such as eu-west-1",
    _ROLE_ARN: "an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>)",
    _BUCKET: "an S3 bucket name (3-63 of a-z 0-9 . -)",
    _GITHUB_REPOSITORY: "a GitHub repository as owner/name",
    limits.PIPELINE_NAME_PATTERN: "letters, digits and single hyphens, starting alphanumeric",
    limits.STEP_NAME_PATTERN: "letters, digits, - and _",
    limits.STEP_DISPLAY_NAME_PATTERN: "1-64 letters, digits, - and _ (SageMaker allows no spaces)",
    limits.PIPELINE_DISPLAY_NAME_PATTERN: "letters, digits, hyphens (SageMaker allows no spaces)",
    limits.IMAGE_TAG_PATTERN: "an image tag (1-128 of letters, digits, _ . -; not first . or -)",
    limits.REPOSITORY_PATTERN: "an ECR repository name (lowercase, digits, . _ - and /)",
}


def image_tag_problem(tag: str) -> str | None:
    """Why `tag` cannot tag an image, or None (CD passes commit SHAs)."""
    if re.match(limits.IMAGE_TAG_PATTERN, tag):
        return None
    return f"--image-tag {tag!r} is not {PATTERN_HINTS[limits.IMAGE_TAG_PATTERN]}"


def _instance_type(value: str) -> str:
    if not re.match(_INSTANCE, value):
        raise ValueError(f"expected 'ml.<family>.<size>' (for example ml.m5.xlarge), got {value!r}")
    return value


def _env_var_name(value: str) -> str:
    if not re.match(_ENV_VAR, value):
        raise ValueError(f"{value!r} is not an environment variable name (A-Z, 0-9, _)")
    return value


def _tag_key(value: str) -> str:
    if len(value) > limits.TAG_KEY_MAX or value.lower().startswith("aws:"):
        raise ValueError(f"tag key {value!r} is over 128 characters or starts with 'aws:'")
    return value


InstanceType = Annotated[str, AfterValidator(_instance_type)]
EnvVarName = Annotated[str, AfterValidator(_env_var_name)]
TagKey = Annotated[str, AfterValidator(_tag_key)]
TagValue = Annotated[str, Field(max_length=limits.TAG_VALUE_MAX)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ImageSpec(Strict):
    """An image as a full URI, or as an ECR repository (+ tag) in the environment's account."""

    uri: str | None = Field(default=None, pattern=r"^[^\s;|&$`'\"<>]+$", max_length=1024)
    repository: str | None = Field(default=None, pattern=limits.REPOSITORY_PATTERN, max_length=256)
    tag: str = Field(default="latest", pattern=limits.IMAGE_TAG_PATTERN)
    # Built on a CUDA base: it belongs on GPU instances (ml.g*, ml.p*) and only there
    # (checks.check_instances_fit_images).
    gpu: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ImageSpec:
        if (self.uri is None) == (self.repository is None):
            raise ValueError("give exactly one of 'uri' or 'repository'")
        return self


class SecretSpec(Strict):
    """Where a secret lives in AWS; only the reference is ever written to a definition."""

    secrets_manager: str | None = None
    ssm: str | None = None
    json_key: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SecretSpec:
        if (self.secrets_manager is None) == (self.ssm is None):
            raise ValueError("give exactly one of 'secrets_manager' or 'ssm'")
        return self

    @property
    def reference(self) -> str:
        """What jobs receive in `<NAME>_SECRET`: 'secretsmanager:<id>[#key]' or 'ssm:<name>'."""
        if self.secrets_manager is not None:
            suffix = f"#{self.json_key}" if self.json_key else ""
            return f"secretsmanager:{self.secrets_manager}{suffix}"
        return f"ssm:{self.ssm}"


class SubscriptionSpec(Strict):
    protocol: Literal["email", "https", "sqs"]
    endpoint: str

    @model_validator(mode="after")
    def _endpoint_fits_protocol(self) -> SubscriptionSpec:
        patterns = {
            "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            "https": r"^https://[^\s]+$",
            "sqs": r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+(\.fifo)?$",
        }
        if not re.match(patterns[self.protocol], self.endpoint):
            expected = {
                "email": "an email address",
                "https": "an https:// URL",
                "sqs": "an SQS queue ARN",
            }[self.protocol]
            raise ValueError(f"{self.protocol} endpoint {self.endpoint!r} is not {expected}")
        return self


class AlertSettings(Strict):
    """Where this environment's alert topics deliver, and the key that encrypts them."""

    # EventBridge cannot publish to topics encrypted with the AWS-managed alias/aws/sns key, so
    # AWS environments name a customer-managed key whose policy lets events.amazonaws.com use it.
    kms_key: str | None = None
    subscriptions: dict[str, list[SubscriptionSpec]] = Field(default_factory=dict)

    @field_validator("kms_key")
    @classmethod
    def _not_aws_managed(cls, value: str | None) -> str | None:
        if value == "alias/aws/sns":
            raise ValueError(
                "alias/aws/sns cannot be used: EventBridge cannot publish to topics encrypted with "
                "the AWS-managed key; name a customer-managed key"
            )
        return value


class LocalImage(Strict):
    """What stands in locally for the images whose URI matches one `local.images` pattern."""

    # The interpreter that stands in for the image's python (default: the executor's own).
    python: str | None = None
    # The SageMaker built-in algorithm the image implements, for a training job with no
    # sagemaker_program (SageMaker's own algorithm images are recognised without this).
    algorithm: Literal["xgboost"] | None = None


class LocalSettings(Strict):
    """How the Docker-free executor stands in for containers on this machine."""

    # image URI glob (fnmatch: `*/sagemaker-xgboost:*`) -> its local stand-in; first match wins
    images: dict[str, LocalImage] = Field(default_factory=dict)
    # image URI -> interpreter that stands in for the image's python (the older, exact form of
    # `images: {URI: {python: ...}}`)
    interpreters: dict[str, str] = Field(default_factory=dict)
    # Run each job of the project's images (containers/*) in its image environment, holding
    # exactly what the image installs, as `run --images` does (sm_pipelines/local/image_envs.py).
    image_envs: bool = False
    # Lambda function name -> "module:function" run in process by Lambda steps
    lambdas: dict[str, str] = Field(default_factory=dict)
    state_dir: str = ".sm-local"
    # Stores started for the length of a run of this project's pipelines (see local/services.py)
    services: list[Literal["mongodb", "qdrant"]] = Field(default_factory=list)
    # Alerts also POST here (retried, never failing the run); they always go to the console
    # and to <state>/alerts.jsonl.
    alert_webhook: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")


class EnvironmentConfig(Strict):
    name: str
    kind: Literal["aws", "local"] = "aws"
    account_id: str = Field(pattern=_ACCOUNT)
    region: str = Field(pattern=_REGION)
    role_arn: str = Field(pattern=_ROLE_ARN)
    bucket: str = Field(pattern=_BUCKET)
    prefix: str = Field(default="llm-twin", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$")
    images: dict[str, ImageSpec]
    instance_types: dict[str, InstanceType]
    model_package_group: str = Field(
        default="llm-twin", max_length=limits.MODEL_PACKAGE_GROUP_NAME_MAX
    )
    endpoint_name: str = Field(default="llm-twin", max_length=limits.JOB_NAME_MAX)
    use_spot_training: bool = False
    secrets: dict[EnvVarName, SecretSpec] = Field(default_factory=dict)
    variables: dict[EnvVarName, str] = Field(default_factory=dict)
    parameter_defaults: dict[str, dict[str, str | int | float | bool]] = Field(default_factory=dict)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
    # The repository whose GitHub Actions may deploy here (the CD role's OIDC trust).
    github_repository: str | None = Field(default=None, pattern=_GITHUB_REPOSITORY)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    # The guard Lambda's role (must trust lambda.amazonaws.com); the execution role if unset.
    lambda_role_arn: str | None = Field(default=None, pattern=_ROLE_ARN)
    local: LocalSettings | None = None

    @field_validator("role_arn")
    @classmethod
    def _role_in_account(cls, value: str, info: ValidationInfo) -> str:
        account = info.data.get("account_id")
        if account and value.split(":")[4] != account:
            raise ValueError(
                f"{value!r} is not in account {account}; the execution role must live in the "
                "environment's account"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tag_count(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > limits.TAGS_PER_RESOURCE_MAX:
            raise ValueError(f"{len(value)} tags; SageMaker allows {limits.TAGS_PER_RESOURCE_MAX}")
        return value

    @model_validator(mode="after")
    def _aws_alerts_need_a_key(self) -> EnvironmentConfig:
        if self.kind == "aws" and self.alerts.subscriptions and not self.alerts.kms_key:
            raise ValueError(
                "alerts.kms_key is required when an AWS environment has alert subscriptions "
                "(topics are KMS-encrypted)"
            )
        return self

    def instance_type(self, key: str) -> str:
        return self.instance_types.get(key, key)

    def s3_uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, self.prefix, *[p.strip("/") for p in parts]])
