"""`sm-pipelines ui`: check what the view needs (its vendored libraries, a state folder, a
loopback address, a free port), then serve it with uvicorn until Ctrl-C."""

from __future__ import annotations

import socket
from pathlib import Path

from sm_pipelines.errors import UserError
from sm_pipelines.local.state import LocalState
from sm_pipelines.ui.app import LOOPBACK_NAMES, create_app
from sm_pipelines.ui.vendor import VENDOR, missing_assets

DEFAULT_PORT = 8765


def check_state(state_dir: str | None, state: LocalState) -> None:
    """A state folder that is a file, or one named with --state that does not exist, is a
    mistake; the default folder may not exist yet (the view then shows nothing yet)."""
    if state.root.exists() and not state.root.is_dir():
        raise UserError(f"--state {state.root}: not a folder")
    if state_dir and not state.root.is_dir():
        raise UserError(
            f"--state {state.root}: no such folder (runs create it: sm-pipelines run PIPELINE "
            f"--local --state {state_dir})"
        )


def listen(host: str, port: int) -> socket.socket:
    if host not in LOOPBACK_NAMES:
        raise UserError(f"--host {host}: the view serves 127.0.0.1 only")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise UserError(f"127.0.0.1:{port}: {exc.strerror}; choose another --port") from None
    sock.listen(128)
    return sock


def serve(
    definitions_dir: Path, state_dir: str | None, state: LocalState, port: int, host: str, env: str
) -> int:
    missing = missing_assets()
    if missing:
        raise UserError(
            f"the view's browser libraries are missing from {VENDOR} ({', '.join(missing)}): "
            "run `make ui-assets`"
        )
    check_state(state_dir, state)
    import uvicorn

    sock = listen(host, port)
    app = create_app(definitions_dir, state, env)
    print(
        f"sm-pipelines ui: http://127.0.0.1:{sock.getsockname()[1]}  (state {state.root}, "
        f"env {env}; Ctrl-C stops it)",
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    return 0
