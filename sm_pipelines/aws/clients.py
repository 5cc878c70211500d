"""AWS (botocore) clients for an environment, and AWS failures turned into one-line errors.

Every failure of an AWS call reaches the user as one `AwsError` line that names the call and the
resource, whatever the endpoint did:

- a malformed endpoint URL (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> or the AWS config):
  botocore raises ValueError while it builds the client, or EndpointResolutionError only at
  the first call; `client()` turns the one and checks the URL up front against the other;
- no answer: EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
  ConnectionClosedError (a reset, a close, bytes that are not HTTP), all BotoCoreError;
- an error status with any body (HTML from a proxy, say): ClientError;
- a success status with a body that is not what the protocol promises: botocore's parsers raise
  `botocore.parsers.ResponseParserError` (an Exception, not a BotoCoreError), UnicodeDecodeError,
  ValueError, KeyError, AttributeError or TypeError, or, for JSON protocols, silently return an
  empty result. `client()` checks JSON bodies before botocore parses them and turns anything
  else an API call raises into `UnreadableResponse`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from sm_pipelines.errors import AwsError

# botocore's own defaults, named so that tests can shorten them.
CONNECT_TIMEOUT_S = 60.0
READ_TIMEOUT_S = 60.0
# Bodies and messages from a misbehaving endpoint can be long; an error stays one short line.
MESSAGE_MAX_CHARS = 300


class UnreadableResponse(Exception):
    """An endpoint answered an API call with something botocore could not read."""

    def __init__(self, endpoint: str, operation: str, reason: str) -> None:
        self.endpoint = endpoint
        self.operation = operation
        self.reason = reason
        super().__init__(f"unreadable {operation} response from {endpoint}: {reason}")


def client(service: str, region: str) -> Any:
    """A botocore client that fails in one line. AWS_ENDPOINT_URL (e.g. a local moto server),
    AWS_MAX_ATTEMPTS, AWS_RETRY_MODE and AWS_PROFILE are honoured as botocore reads them."""
    from botocore.config import Config

    # The SageMaker SDK configures the root logger at INFO; botocore would narrate credentials.
    logging.getLogger("botocore").setLevel(logging.WARNING)

    action = f"{service} client for {region}"
    config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S)
    with aws_errors(action):
        session = _session()
        variable = _endpoint_variable(session, service)
        try:
            api = session.create_client(service, region_name=region, config=config)
        except ValueError as exc:
            # botocore's endpoint constructor: "Invalid endpoint: ...", "Invalid IPv6 URL".
            raise AwsError(
                f"{action}: invalid endpoint URL{_configured_endpoint(variable)}: {_short(exc)}"
            ) from None
    _check_endpoint(variable, action, api.meta.endpoint_url)
    api.meta.events.register("before-parse", _require_json_object)
    api._make_api_call = _guarded(api._make_api_call, api.meta.endpoint_url)
    return api


_LOADERS: dict[str, Any] = {}


def _session() -> Any:
    """A fresh botocore session (it reads the environment and the AWS config now) sharing one
    loader of the service models: parsing them again for every client costs ~0.1 s each."""
    import botocore.session
    from botocore.loaders import create_loader

    session = botocore.session.get_session()
    data_path = session.get_config_variable("data_path") or ""
    if data_path not in _LOADERS:
        _LOADERS[data_path] = create_loader(data_path or None)
    session.register_component("data_loader", _LOADERS[data_path])
    return session


def _endpoint_variable(session: Any, service: str) -> str:
    """The service's own endpoint variable: botocore names it by the service id
    (`events` -> AWS_ENDPOINT_URL_EVENTBRIDGE)."""
    try:
        service_id = str(session.get_service_model(service).service_id)
    except Exception:  # an unknown service fails in create_client, with botocore's message
        service_id = service
    return "AWS_ENDPOINT_URL_" + service_id.replace(" ", "_").replace("-", "_").upper()


def _endpoint_source(variable: str) -> tuple[str, str] | None:
    """The environment variable that set the endpoint, and its value, if one did."""
    for name in (variable, "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return name, os.environ[name]
    return None


def _configured_endpoint(variable: str) -> str:
    source = _endpoint_source(variable)
    return f" {source[1]!r} (from {source[0]})" if source else ""


def _check_endpoint(variable: str, action: str, url: str) -> None:
    """botocore accepts some URLs it cannot use (another scheme, a port out of range) and fails
    only at the first call; refuse them here, naming where the URL came from."""
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        source = _endpoint_source(variable)
        where = f" (from {source[0]})" if source and source[1] == url else ""
        raise AwsError(
            f"{action}: invalid endpoint URL {url!r}{where}: expected http(s)://host[:port]"
        )


def _require_json_object(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's JSON parsers read a success body that is not JSON as an empty result, so an
    endpoint answering garbage would look like an AWS that has nothing: refuse it."""
    service = operation_model.service_model
    protocol = getattr(service, "resolved_protocol", None) or service.protocol
    if protocol not in ("json", "rest-json") or response_dict.get("status_code", 500) >= 300:
        return
    body = response_dict.get("body")
    output = operation_model.output_shape
    if not isinstance(body, bytes | bytearray) or not body or output is None:
        return  # streamed, empty, or nothing to read
    if output.serialization.get("payload"):
        return  # the body is a member's raw value, not a JSON document
    try:
        parsed = json.loads(body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
        parsed = None
    if not isinstance(parsed, dict):
        raise UnreadableResponse(
            "the endpoint",
            operation_model.name,
            f"HTTP {response_dict.get('status_code')} with a body that is not a JSON object: "
            f"{_preview(body)}",
        )


def _guarded(make_api_call: Callable[..., Any], endpoint: str) -> Callable[..., Any]:
    """Botocore's own errors pass through; anything else raised while an endpoint's answer is
    read becomes UnreadableResponse. Paginators and waiters call through here too."""
    from botocore.exceptions import BotoCoreError, ClientError

    def call(operation_name: str, api_params: dict[str, Any]) -> Any:
        try:
            return make_api_call(operation_name, api_params)
        except UnreadableResponse as exc:
            raise UnreadableResponse(endpoint, exc.operation, exc.reason) from None
        except (ClientError, BotoCoreError):
            raise
        except Exception as exc:
            raise UnreadableResponse(
                endpoint, operation_name, f"{type(exc).__name__}: {exc}"
            ) from exc

    return call


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
        raise AwsError(f"{action}: {_client_error(exc.response)}") from None
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
        # ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError, EndpointResolutionError,
        # ParamValidationError, ProfileNotFound, ...: botocore's message names the endpoint.
        raise AwsError(f"{action}: {_short(exc)}") from None
    except UnreadableResponse as exc:
        raise AwsError(f"{action}: {_short(exc)}") from None


def _client_error(response: dict[str, Any]) -> str:
    """`Code: Message`, or the HTTP status where the answer had no error code (an error page
    from a proxy, a HEAD request); a server error keeps its status next to its code."""
    error = response.get("Error", {})
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.get("Code") or "")
    message = _short(error.get("Message") or "")
    if not code or code.isdigit():
        label = f"HTTP {status or code or 'error'}"
    elif status and status >= 500:
        label = f"{code} (HTTP {status})"
    else:
        label = code
    return f"{label}: {message}" if message else f"{label} (the answer holds no error message)"


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _short(message: object) -> str:
    text = _one_line(message)
    return text if len(text) <= MESSAGE_MAX_CHARS else text[: MESSAGE_MAX_CHARS - 3] + "..."


def _preview(body: bytes | bytearray, limit: int = 60) -> str:
    text = bytes(body[:limit]).decode("utf-8", "backslashreplace")
    return repr(text + ("..." if len(body) > limit else ""))


# What "does not exist" looks like across the services (and moto).
NOT_FOUND_CODES = frozenset(
    {
        "NoSuchEntity",
        "NoSuchKey",
        "NotFound",
        "ResourceNotFound",
        "ResourceNotFoundException",
    }
)


def is_not_found(exc: Exception) -> bool:
    """The service said the resource does not exist. Never guessed from a bare HTTP status or
    from text alone, so an error page from a broken endpoint is not mistaken for absence."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "")
    # AWS says ResourceNotFound; moto says ValidationException "Could not find pipeline".
    return code in NOT_FOUND_CODES or (
        code == "ValidationException"
        and ("does not exist" in message or "Could not find" in message)
    )
