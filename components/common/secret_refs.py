"""Resolve secret references at job start: `secretsmanager:<id>[#json_key]` or `ssm:<name>`.

Definitions never hold secret values; environments map a name to a reference, which jobs receive
as `<NAME>_SECRET` and resolve here with the job's own role.
"""

from __future__ import annotations

import json
import os
from typing import Any

from components.common.job import JobError

SECRETS_MANAGER = "secretsmanager:"
SSM = "ssm:"


def _client(service: str) -> Any:
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, region_name=region) if region else boto3.client(service)


def resolve_secret(reference: str, variable: str) -> str:
    """The secret value behind `reference`; `variable` names it in error messages."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if reference.startswith(SECRETS_MANAGER):
            return _from_secrets_manager(reference[len(SECRETS_MANAGER) :], variable)
        if reference.startswith(SSM):
            name = reference[len(SSM) :]
            if not name:
                raise JobError(f"{variable}: 'ssm:' names no parameter")
            response = _client("ssm").get_parameter(Name=name, WithDecryption=True)
            return response["Parameter"]["Value"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise JobError(
            f"{variable}: cannot read {reference}: {error.get('Code', 'ClientError')}: "
            f"{error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise JobError(f"{variable}: cannot read {reference}: {exc}") from None
    raise JobError(
        f"{variable}={reference!r}: expected secretsmanager:<id>[#json_key] or ssm:<name>"
    )


def _from_secrets_manager(spec: str, variable: str) -> str:
    secret_id, _, json_key = spec.partition("#")
    if not secret_id:
        raise JobError(f"{variable}: 'secretsmanager:' names no secret")
    response = _client("secretsmanager").get_secret_value(SecretId=secret_id)
    value = response.get("SecretString")
    if value is None:
        raise JobError(f"{variable}: secret {secret_id} holds binary data, not a string")
    if not json_key:
        return value
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        raise JobError(
            f"{variable}: secret {secret_id} is not JSON, so it has no key {json_key!r}"
        ) from None
    if not isinstance(document, dict) or json_key not in document:
        raise JobError(f"{variable}: secret {secret_id} has no key {json_key!r}")
    found = document[json_key]
    if not isinstance(found, str) or not found:
        raise JobError(f"{variable}: secret {secret_id} key {json_key!r} is not a string")
    return found
