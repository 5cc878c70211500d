"""Run the RAG service:

    python -m components.serving.rag --state .sm-local --port 8000        # local model and store
    python -m components.serving.rag --host 0.0.0.0 --port 8080           # in a container

--port 0 picks a free port; the first line printed says which ("rag: serving on http://...").
With --state, the store defaults to <state>/qdrant, traces to <state>/traces.jsonl and the
endpoint to the one deployed under <state>; SAGEMAKER_RUNTIME_URL still names the model server.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from components.common.contract import STATE_VARIABLE
from components.common.job import JobError, run_job

PROG = "rag"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="components.serving.rag")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free one)")
    parser.add_argument("--state", type=Path, help="local state folder (store, endpoint, traces)")
    parser.add_argument(
        "--endpoint", help="model endpoint name (default: $SAGEMAKER_ENDPOINT_NAME)"
    )
    parser.add_argument("--runtime-url", help="sagemaker-runtime URL (a local model server)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number")
    return args


def apply_state(args: argparse.Namespace) -> None:
    """Point unset variables at the local state folder, as the executor does for jobs."""
    if args.state is not None:
        state = args.state.resolve()
        if not state.is_dir():
            raise JobError(f"--state {args.state}: no such folder")
        os.environ.setdefault(STATE_VARIABLE, str(state))
        if not os.environ.get("QDRANT_URL"):
            os.environ.setdefault("QDRANT_PATH", str(state / "qdrant"))
    if args.endpoint:
        os.environ["SAGEMAKER_ENDPOINT_NAME"] = args.endpoint
    if args.runtime_url:
        os.environ["SAGEMAKER_RUNTIME_URL"] = args.runtime_url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_state(args)
    from components.common import hf_env

    hf_env.configure(offline=True)
    import uvicorn

    from components.serving.rag.app import create_app
    from components.serving.rag.config import rag_settings
    from components.serving.rag.prompt import TEMPLATES
    from components.serving.rag.service import RagService

    settings = rag_settings(state=args.state.resolve() if args.state else None)
    try:
        listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, args.port))
    except OSError as exc:
        raise JobError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    service = RagService.from_env(settings)
    # Registered now rather than on the first request, which would wait for it.
    for template in TEMPLATES:
        version = service.prompts.get(template)
        print(
            f"{PROG}: prompt {version.name} {version.version or 'unregistered'} "
            f"(commit {version.commit}, {version.library})",
            flush=True,
        )
    guardrails = service.guardrails.describe() if service.guardrails else "off (RAG_GUARDRAILS)"
    print(f"{PROG}: guardrails: {guardrails}", flush=True)
    port = listener.getsockname()[1]
    print(
        f"{PROG}: serving on http://{args.host}:{port} (endpoint {settings.endpoint_name} via "
        f"{service.generator.where}; traces: {service.tracer.description})",
        flush=True,
    )
    config = uvicorn.Config(
        create_app(service), log_level="warning", access_log=False, timeout_graceful_shutdown=10
    )
    uvicorn.Server(config).run(sockets=[listener])
    print(f"{PROG}: stopped ({service.tracer.exported} trace(s) exported)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_job(PROG, lambda: main()))
