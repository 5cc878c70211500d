"""boto3 clients for an environment, and AWS failures turned into one-line errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from sm_pipelines.errors import AwsError


def client(service: str, region: str) -> Any:
    """A boto3 client; AWS_ENDPOINT_URL (e.g. a local moto server) is honoured by botocore."""
    import boto3

    # The SageMaker SDK configures the root logger at INFO; botocore would narrate credentials.
    logging.getLogger("botocore").setLevel(logging.WARNING)

    return boto3.session.Session(region_name=region).client(service)


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Re-raise botocore failures as AwsError naming `action` (the call and the resource)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(
            f"{action}: {error.get('Code', 'Error')}: {error.get('Message', exc)}"
        ) from None
    except NoCredentialsError:
        raise AwsError(
            f"{action}: no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where a role is attached)"
        ) from None
    except EndpointConnectionError as exc:
        raise AwsError(f"{action}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}") from None
    except NoRegionError:
        raise AwsError(f"{action}: no AWS region configured") from None
    except BotoCoreError as exc:
        raise AwsError(f"{action}: {_one_line(exc)}") from None


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def is_not_found(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "")
    # AWS says ResourceNotFound; moto says ValidationException "Could not find pipeline".
    return code in ("ResourceNotFound", "NoSuchKey", "404", "NotFound") or (
        code == "ValidationException"
        and ("does not exist" in message or "Could not find" in message)
    )
