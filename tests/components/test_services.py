"""The local MongoDB stand-in that `sm-pipelines run --local` starts for the data jobs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pymongo import MongoClient

from sm_pipelines.local.services import local_services

SERVICES = ("mongodb", "qdrant")


def _refuses(uri: str) -> bool:
    host, port = uri.removeprefix("mongodb://").rstrip("/").split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) != 0


def test_local_services_persist_under_the_state_folder_and_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MONGODB_URI", "MONGODB_URI_SECRET", "QDRANT_URL", "QDRANT_PATH"):
        monkeypatch.delenv(name, raising=False)
    with local_services(tmp_path, SERVICES) as environment:
        assert environment["QDRANT_PATH"] == str(tmp_path / "qdrant")
        uri = environment["MONGODB_URI"]
        assert uri.startswith("mongodb://127.0.0.1:")
        with MongoClient(uri, serverSelectionTimeoutMS=2000) as client:
            client.llm_twin.articles.insert_one({"_id": "a", "title": "kept"})
    assert _refuses(uri)
    assert (tmp_path / "mongodb").is_dir()

    with (
        local_services(tmp_path, SERVICES) as environment,
        MongoClient(environment["MONGODB_URI"]) as client,
    ):
        assert client.llm_twin.articles.find_one({"_id": "a"})["title"] == "kept"


def test_configured_services_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://atlas.example/")
    monkeypatch.setenv("QDRANT_URL", "https://qdrant.example")
    with local_services(tmp_path, SERVICES) as environment:
        assert environment == {}
    assert not (tmp_path / "mongodb").exists()


def test_no_service_starts_unless_the_environment_declares_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MONGODB_URI", "MONGODB_URI_SECRET", "QDRANT_URL", "QDRANT_PATH"):
        monkeypatch.delenv(name, raising=False)
    with local_services(tmp_path, ()) as environment:
        assert environment == {}
    with local_services(tmp_path, ("qdrant",)) as environment:
        assert environment == {"QDRANT_PATH": str(tmp_path / "qdrant")}
    assert not (tmp_path / "mongodb").exists()
