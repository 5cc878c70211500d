"""The tags that mark what sm-pipelines created in an environment."""

from __future__ import annotations

from sm_pipelines.config.environment import EnvironmentConfig

MANAGED_BY_TAG = "sm-pipelines:managed-by"
ENVIRONMENT_TAG = "sm-pipelines:environment"


def resource_tags(env: EnvironmentConfig) -> dict[str, str]:
    """The environment's tags plus the two that mark what sm-pipelines created."""
    return {**env.tags, MANAGED_BY_TAG: "sm-pipelines", ENVIRONMENT_TAG: env.name}


def is_managed(tags: dict[str, str], env: EnvironmentConfig) -> bool:
    return tags.get(MANAGED_BY_TAG) == "sm-pipelines" and tags.get(ENVIRONMENT_TAG) == env.name


def as_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]
