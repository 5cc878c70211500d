"""Local stand-ins for the stores the data jobs use: MongoDB and Qdrant, under the state folder.

Which of them a run gets is the environment's choice (`local.services` in its YAML): the
executor itself runs any definition and starts nothing a pipeline did not ask for.

MongoDB is SecantusDB, a MongoDB wire-protocol server run in this process on a free loopback port
with its storage under <state>/mongodb, so documents survive between runs like Atlas would keep
them. Qdrant needs no server: jobs open the local store at <state>/qdrant themselves (one process
at a time, which the pipeline's step order guarantees). Jobs only see the environment variables,
exactly as in AWS; nothing in components/ can tell the difference.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from components.common.contract import SECRET_SUFFIX
from sm_pipelines.errors import UserError

MONGODB_URI = "MONGODB_URI"
QDRANT_PATH = "QDRANT_PATH"
# Set by the developer, these point jobs at real services instead, and no stand-in starts.
_MONGO_OVERRIDES = (MONGODB_URI, MONGODB_URI + SECRET_SUFFIX)
_QDRANT_OVERRIDES = ("QDRANT_URL", QDRANT_PATH)


def start_mongodb(storage: Path) -> Any:
    """A started SecantusDB server on 127.0.0.1 (free port) storing under `storage`."""
    try:
        from secantus import SecantusDBServer
    except ImportError:
        raise UserError(
            "the local MongoDB needs secantusdb (pip install -e '.[data]', or `make setup`)"
        ) from None
    storage.mkdir(parents=True, exist_ok=True)
    # Its per-connection logging is noise next to the run's progress table.
    logging.getLogger("secantus").setLevel(logging.WARNING)
    try:
        server = SecantusDBServer(
            host="127.0.0.1",
            port=0,
            storage_path=str(storage),
            replica_set_name=None,
            enable_test_commands=False,
        )
        server.start()
    except Exception as exc:
        raise UserError(
            f"cannot start the local MongoDB on {storage}: {exc} "
            "(is another run using the same --state?)"
        ) from None
    return server


def stop_mongodb(server: Any) -> None:
    # The accept loop blocks in accept(), which closing the socket does not wake on Linux; a
    # shutdown does, so stop() returns at once instead of after its 2 s join timeout.
    listener = getattr(server, "_socket", None)
    if isinstance(listener, socket.socket):
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
    server.stop()


@contextlib.contextmanager
def mongodb_server(storage: Path) -> Iterator[str]:
    """A local MongoDB for the duration of the block; its URI."""
    server = start_mongodb(storage)
    try:
        yield server.uri
    finally:
        stop_mongodb(server)


@contextlib.contextmanager
def local_services(state_root: Path, services: Collection[str]) -> Iterator[dict[str, str]]:
    """Run the stores `services` names (from the environment's `local.services`) for a pipeline
    run; the variables every job's environment gets. Nothing starts for a service not named.

    A developer who exports MONGODB_URI (or QDRANT_URL/QDRANT_PATH) keeps it: jobs inherit the
    process environment, and no stand-in is started for what is already configured.
    """
    environment: dict[str, str] = {}
    if "qdrant" in services and not any(os.environ.get(name) for name in _QDRANT_OVERRIDES):
        environment[QDRANT_PATH] = str((state_root / "qdrant").resolve())
    if "mongodb" not in services or any(os.environ.get(name) for name in _MONGO_OVERRIDES):
        yield environment
        return
    server = start_mongodb(state_root / "mongodb")
    try:
        yield {MONGODB_URI: server.uri, **environment}
    finally:
        stop_mongodb(server)
