"""The tags that mark what sm-pipelines created in an environment."""

from __future__ import annotations

from urllib.parse import urlencode

from sm_pipelines.config.environment import EnvironmentConfig

MANAGED_BY_TAG = "sm-pipelines:managed-by"
MANAGED_BY = "sm-pipelines"
ENVIRONMENT_TAG = "sm-pipelines:environment"


def marker_tags(env: EnvironmentConfig) -> dict[str, str]:
    """The two tags that say "sm-pipelines made this for `env`". S3 objects carry only these
    (an object holds at most 10 tags, and cost-allocation tags do not apply to objects)."""
    return {MANAGED_BY_TAG: MANAGED_BY, ENVIRONMENT_TAG: env.name}


def resource_tags(env: EnvironmentConfig) -> dict[str, str]:
    """The environment's tags plus the two that mark what sm-pipelines created."""
    return {**env.tags, **marker_tags(env)}


def is_managed(tags: dict[str, str], env: EnvironmentConfig) -> bool:
    return tags.get(MANAGED_BY_TAG) == MANAGED_BY and tags.get(ENVIRONMENT_TAG) == env.name


def as_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def as_query(tags: dict[str, str]) -> str:
    """Tags as S3's `Tagging` argument of PutObject (URL-encoded key=value pairs)."""
    return urlencode(sorted(tags.items()))
