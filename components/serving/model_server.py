"""The model server: invoke_endpoint's wire format on top of a twin model.

Routes:
  POST /endpoints/<name>/invocations   what sagemaker-runtime sends, so
      boto3.client("sagemaker-runtime", endpoint_url="http://127.0.0.1:PORT").invoke_endpoint(
          EndpointName=name, Body=json.dumps({"inputs": ..., "parameters": {...}}),
          ContentType="application/json")
      works against a local endpoint exactly as against SageMaker
  POST /invocations, GET /ping         the SageMaker container contract (same handler)

Request {"inputs": "prompt" | ["prompt", ...], "parameters": {"max_new_tokens": 128,
"temperature": 0.0, "repetition_penalty": 1.0, "return_full_text": false}}; response
[{"generated_text": "..."}], as the Hugging Face inference containers answer. The prompt goes
through the same chat template as in training. With --state/--endpoint the model is the one the
endpoint record names, and a new deploy (a changed record) is picked up on the next request
without a restart.

    python -m components.serving.model_server --state .sm-local --endpoint llm-twin-local
    python -m components.serving.model_server --model-dir /opt/ml/model --host 0.0.0.0
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from components.common import hf_env, local_endpoints
from components.common.job import JobError, run_job

MAX_NEW_TOKENS = 1024
ACCOUNT = "000000000000"


class RequestError(Exception):
    """A bad request: the container answers 400, which the runtime wraps in a ModelError."""


@dataclass
class Loaded:
    config: str
    model: Any
    tokenizer: Any


class ModelHost:
    """The model behind one endpoint (or one folder), reloaded when the endpoint is redeployed."""

    def __init__(self, state: Path | None, endpoint: str | None, model_dir: Path | None) -> None:
        self.state, self.endpoint, self.model_dir = state, endpoint, model_dir
        self._lock = threading.Lock()
        self._loaded: Loaded | None = None
        self._seen: tuple[int, int] | None = None

    def _target(self) -> tuple[str, Path]:
        if self.model_dir is not None:
            return str(self.model_dir), self.model_dir
        assert self.state is not None and self.endpoint is not None
        record = local_endpoints.read(self.state, self.endpoint)
        if record is None or record.get("EndpointStatus") != "InService":
            raise JobError(f"endpoint {self.endpoint} is not deployed under {self.state}")
        return record["EndpointConfigName"], Path(record["ModelPath"])

    def current(self) -> Loaded:
        with self._lock:
            stamp = self._stamp()
            if self._loaded is None or stamp != self._seen:
                config, path = self._target()
                if self._loaded is None or self._loaded.config != config:
                    from components.common import twin_model

                    model, tokenizer = twin_model.load(path)
                    self._loaded = Loaded(config, model, tokenizer)
                    print(f"model_server: loaded {config} from {path}", flush=True)
                self._seen = stamp
            return self._loaded

    def _stamp(self) -> tuple[int, int] | None:
        if self.state is None or self.endpoint is None:
            return None
        try:
            info = local_endpoints.record_path(self.state, self.endpoint).stat()
        except FileNotFoundError:
            return (0, 0)
        return (info.st_mtime_ns, info.st_size)

    def invoke(self, payload: dict[str, Any]) -> list[dict[str, str]]:
        from components.common.twin_model import generate

        request = parse_request(payload)
        loaded = self.current()
        with self._lock:  # one generation at a time: the CPU is the bottleneck anyway
            answers = generate(
                loaded.model,
                loaded.tokenizer,
                request.prompts,
                max_new_tokens=request.max_new_tokens,
                temperature=request.temperature,
                repetition_penalty=request.repetition_penalty,
            )
        return [
            {"generated_text": f"{prompt}{answer}" if request.full_text else answer}
            for prompt, answer in zip(request.prompts, answers, strict=True)
        ]


@dataclass(frozen=True)
class GenerationRequest:
    prompts: list[str]
    max_new_tokens: int
    temperature: float
    repetition_penalty: float
    full_text: bool


def _bounded(
    parameters: dict[str, Any], name: str, default: float, low: float, high: float
) -> float:
    value = parameters.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"'{name}' must be a number")
    if not low <= value <= high:
        raise RequestError(f"'{name}' must be between {low:g} and {high:g}")
    return float(value)


def parse_request(payload: Any) -> GenerationRequest:
    if not isinstance(payload, dict):
        raise RequestError("the body must be a JSON object with 'inputs'")
    inputs = payload.get("inputs")
    prompts = [inputs] if isinstance(inputs, str) else inputs
    if (
        not isinstance(prompts, list)
        or not prompts
        or not all(isinstance(p, str) and p.strip() for p in prompts)
    ):
        raise RequestError("'inputs' must be a non-empty string or a list of them")
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RequestError("'parameters' must be an object")
    max_new_tokens = parameters.get("max_new_tokens", 128)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise RequestError("'max_new_tokens' must be an integer")
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise RequestError(f"'max_new_tokens' must be between 1 and {MAX_NEW_TOKENS}")
    return GenerationRequest(
        prompts=prompts,
        max_new_tokens=max_new_tokens,
        temperature=_bounded(parameters, "temperature", 0.0, 0.0, 5.0),
        repetition_penalty=_bounded(parameters, "repetition_penalty", 1.0, 1.0, 2.0),
        full_text=bool(parameters.get("return_full_text")),
    )


def handler_for(host: ModelHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, a keep-alive client's
        # delayed ACK holds each response back about 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            print(f"model_server: {self.address_string()} {format % args}", flush=True)

        def _send(self, status: int, body: Any, error_type: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

        def _runtime_error(self, status: int, message: str) -> None:
            # What sagemaker-runtime answers when the container returns an error status:
            # botocore raises ModelError with OriginalStatusCode and OriginalMessage.
            self._send(
                424,
                {
                    "Message": f"Received client error ({status}) from primary with message "
                    f'"{message}". See the model server log for details.',
                    "OriginalStatusCode": status,
                    "OriginalMessage": message,
                },
                "ModelError",
            )

        def do_GET(self) -> None:
            if self.path != "/ping":
                self._send(404, {"message": f"no route GET {self.path}"})
                return
            try:
                host.current()
            except JobError as exc:
                self._send(503, {"message": str(exc)})
                return
            self._send(200, {"status": "Healthy"})

        def do_POST(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            runtime = len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations"
            if not runtime and parts != ["invocations"]:
                self._send(404, {"message": f"no route POST {self.path}"})
                return
            if runtime and parts[1] != host.endpoint:
                self._send(
                    400,
                    {"message": f"Endpoint {parts[1]} of account {ACCOUNT} not found."},
                    "ValidationError",
                )
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            try:
                if content_type != "application/json":
                    raise RequestError(f"content type {content_type!r}: send application/json")
                try:
                    payload = json.loads(raw or b"null")
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise RequestError(f"the body is not JSON: {exc}") from None
                result = host.invoke(payload)
            except RequestError as exc:
                if runtime:
                    self._runtime_error(400, str(exc))
                else:
                    self._send(400, {"message": str(exc)})
                return
            except JobError as exc:
                self._send(503 if not runtime else 424, {"message": str(exc)}, "ModelNotReady")
                return
            self._send(200, result)

    return Handler


def make_server(host: ModelHost, address: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((address, port), handler_for(host))
    server.daemon_threads = True
    return server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="components.serving.model_server")
    parser.add_argument("--state", type=Path, help="local state folder (with --endpoint)")
    parser.add_argument("--endpoint", help="local endpoint name")
    parser.add_argument("--model-dir", type=Path, help="serve this model folder instead")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if (args.model_dir is None) == (args.state is None or args.endpoint is None):
        parser.error("give either --state and --endpoint, or --model-dir")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hf_env.configure(offline=True)
    if args.endpoint:
        local_endpoints.check_name(args.endpoint)
    host = ModelHost(args.state, args.endpoint, args.model_dir)
    loaded = host.current()  # fail now, not on the first request
    try:
        server = make_server(host, args.host, args.port)
    except OSError as exc:
        raise JobError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    name = args.endpoint or "model"
    print(
        f"model_server: serving {name} ({loaded.config}) on "
        f"http://{args.host}:{server.server_address[1]}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("model_server: stopped", flush=True)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(run_job("model_server", lambda: main()))
