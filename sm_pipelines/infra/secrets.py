"""Empty Secrets Manager secrets for the values the environment references, and what bootstrap
cannot hold a place for.

A placeholder has a name and a description, never a value: the template has no `SecretString`
and no `GenerateSecretString`, which CloudFormation documents as "you create an empty secret".
The user then puts the value (`aws secretsmanager put-secret-value`); since the template never
mentions the value, no later update of the stack can overwrite it. CloudFormation cannot create
SSM `SecureString` parameters (AWS::SSM::Parameter makes String and StringList only), so a
secret kept in SSM is listed for the user to put, as is a secret named by ARN (it lives
elsewhere).
"""

from __future__ import annotations

from collections import defaultdict

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.infra.resources import Resource, logical_id, retained


def _secret_ids(env: EnvironmentConfig) -> dict[str, list[tuple[str, str | None]]]:
    """Secrets Manager ids bootstrap creates -> the (variable, json key) pairs that read them."""
    found: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for variable, spec in sorted(env.secrets.items()):
        if spec.secrets_manager and not spec.secrets_manager.startswith("arn:"):
            found[spec.secrets_manager].append((variable, spec.json_key))
    return dict(sorted(found.items()))


def _description(env: EnvironmentConfig, readers: list[tuple[str, str | None]]) -> str:
    variables = ", ".join(variable for variable, _ in readers)
    keys = sorted({key for _, key in readers if key})
    shape = f"a JSON object with the keys {', '.join(keys)}" if keys else "the value as text"
    return (
        f"Placeholder made by sm-pipelines bootstrap for {env.name}: put {shape} here "
        f"(read by jobs as {variables})"
    )


def secret_placeholders(env: EnvironmentConfig) -> dict[str, Resource]:
    resources: dict[str, Resource] = {}
    taken: set[str] = set()
    for secret_id, readers in _secret_ids(env).items():
        # Retained: deleting the stack must not schedule the user's values for deletion.
        resources[logical_id("Secret", secret_id, taken)] = retained(
            {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"Name": secret_id, "Description": _description(env, readers)},
            }
        )
    return resources


def values_to_put(
    env: EnvironmentConfig, secret_ids: set[str] | None = None, include_other: bool = True
) -> list[str]:
    """One line per secret whose value the user must put after bootstrap, saying how:
    the placeholders named in `secret_ids` (all when None), and with `include_other` those
    bootstrap cannot hold a place for (SSM parameters, secrets named by ARN)."""
    lines = []
    for secret_id, readers in _secret_ids(env).items():
        if secret_ids is not None and secret_id not in secret_ids:
            continue
        keys = sorted({key for _, key in readers if key})
        value = "'{" + ", ".join(f'"{key}": "..."' for key in keys) + "}'" if keys else "'...'"
        lines.append(
            f"aws secretsmanager put-secret-value --secret-id {secret_id} --secret-string {value}"
        )
    if not include_other:
        return lines
    for variable, spec in sorted(env.secrets.items()):
        if spec.ssm:
            lines.append(
                f"aws ssm put-parameter --name {spec.ssm} --type SecureString --value '...'"
                f"  # {variable}: CloudFormation cannot create SecureString parameters"
            )
        elif spec.secrets_manager and spec.secrets_manager.startswith("arn:"):
            lines.append(f"# {variable}: {spec.secrets_manager} is named by ARN; not created here")
    return lines
