"""Generation through the deployed model: sagemaker-runtime invoke_endpoint, in AWS and locally.

Locally SAGEMAKER_RUNTIME_URL points the same boto3 call at the local model server, which speaks
the runtime's wire format; a loopback URL is called unsigned, so no AWS credentials are needed.
Errors become ModelUnavailable (the endpoint cannot answer now: HTTP 503) or ModelFailed (it
answered with an error: HTTP 502), each one line naming the endpoint.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from components.common import local_endpoints
from components.common.job import JobError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Error codes with which the runtime says "not now" rather than "this request is wrong".
UNAVAILABLE_CODES = {
    "ModelNotReadyException",
    "ModelNotReady",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ThrottlingException",
    "InternalFailure",
}


class ModelUnavailable(Exception):
    """The endpoint is missing, down or unreachable."""


class ModelFailed(Exception):
    """The endpoint answered, with an error or an answer of the wrong shape."""


def parse_generated_text(body: bytes) -> str:
    """The text from what Hugging Face style containers answer: [{"generated_text": ...}]."""
    try:
        reply = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFailed("the endpoint's reply is not JSON") from None
    first = reply[0] if isinstance(reply, list) and reply else reply
    text = first.get("generated_text") if isinstance(first, dict) else None
    if not isinstance(text, str):
        raise ModelFailed('the endpoint\'s reply has no "generated_text"')
    return text.strip()


class EndpointGenerator:
    def __init__(
        self,
        endpoint: str,
        runtime_url: str | None = None,
        region: str | None = None,
        timeout: float = 120.0,
        state: Path | None = None,
    ) -> None:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        self.endpoint = endpoint
        self.runtime_url = runtime_url
        self.state = state
        local = bool(runtime_url) and urlparse(runtime_url).hostname in LOOPBACK_HOSTS
        options: dict[str, Any] = {
            "connect_timeout": 3,
            "read_timeout": timeout,
            # Locally a refused connection means "not started": say so at once, no retries.
            "retries": {"max_attempts": 1 if local else 3, "mode": "standard"},
        }
        if local:
            options["signature_version"] = UNSIGNED
        self.client = boto3.client(
            "sagemaker-runtime",
            region_name=region or ("us-east-1" if runtime_url else None),
            endpoint_url=runtime_url,
            config=Config(**options),
        )
        self.where = runtime_url or f"SageMaker ({self.client.meta.region_name})"
        self._model_lock = threading.Lock()
        self._model_seen: tuple[float, dict[str, str]] | None = None

    def model_id(self) -> dict[str, str]:
        """What the trace records as the model: the endpoint, and locally the model version the
        endpoint record names (re-read when a deploy rewrites it)."""
        found = {"model_id": self.endpoint, "endpoint": self.endpoint}
        if self.state is None:
            return found
        try:
            path = local_endpoints.record_path(self.state, self.endpoint)
            stamp = path.stat().st_mtime
        except (OSError, JobError):
            return found
        with self._model_lock:
            if self._model_seen and self._model_seen[0] == stamp:
                return self._model_seen[1]
            try:
                record = local_endpoints.read(self.state, self.endpoint) or {}
            except JobError:
                record = {}
            if record.get("ModelPackageArn"):
                found["model_id"] = record["ModelPackageArn"]
                found["endpoint_config"] = str(record.get("EndpointConfigName", ""))
            self._model_seen = (stamp, found)
            return found

    def generate(self, prompt: str, parameters: dict[str, Any]) -> str:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint,
                Body=json.dumps({"inputs": prompt, "parameters": parameters}).encode("utf-8"),
                ContentType="application/json",
                Accept="application/json",
            )
            body = response["Body"].read()
        except (EndpointConnectionError, ConnectionClosedError) as exc:
            raise ModelUnavailable(
                f"model endpoint {self.endpoint} is unreachable at {self.where}: {exc}"
            ) from None
        except ReadTimeoutError:
            raise ModelUnavailable(
                f"model endpoint {self.endpoint} did not answer in time ({self.where})"
            ) from None
        except NoCredentialsError:
            raise ModelUnavailable(
                f"no AWS credentials to call model endpoint {self.endpoint}"
            ) from None
        except ClientError as exc:
            raise self._client_error(exc) from None
        except BotoCoreError as exc:
            raise ModelUnavailable(
                f"model endpoint {self.endpoint} at {self.where} failed: {exc}"
            ) from None
        return parse_generated_text(body)

    def _client_error(self, exc: Any) -> Exception:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or str(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "ValidationError" and "not found" in message.lower():
            return ModelUnavailable(f"model endpoint {self.endpoint} does not exist: {message}")
        if code in UNAVAILABLE_CODES or status in (429, 503, 504):
            return ModelUnavailable(f"model endpoint {self.endpoint} is not ready: {message}")
        original = exc.response.get("OriginalMessage") or message
        return ModelFailed(f"model endpoint {self.endpoint} failed: {code}: {original}")
