"""The SDK corpus (tests/corpus/): every definition there is built by the real SageMaker SDK with
no network, run by `sm-pipelines run --local --definition FILE.json` as a user runs it, and
checked by its own `expect`. A new module in tests/corpus/ is a new case here."""

from __future__ import annotations

import importlib
import json
import pkgutil
import socket
from pathlib import Path
from types import ModuleType

import pytest

# The entries' own asserts explain themselves as a test's do (before they are imported).
pytest.register_assert_rewrite("tests.corpus")

import tests.corpus  # noqa: E402
from sm_pipelines.compile.session import offline_session  # noqa: E402
from tests.corpus._kit import BUCKET, COMMON_SCRIPTS, PREFIX, REGION, Case  # noqa: E402


def _entries() -> list[ModuleType]:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(tests.corpus.__path__)
        if not info.name.startswith("_")
    )
    return [importlib.import_module(f"tests.corpus.{name}") for name in names]


ENTRIES = _entries()


def _short(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def _param(module: ModuleType) -> object:
    reason = getattr(module, "XFAIL", None)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    marks += list(getattr(module, "MARKS", []))
    return pytest.param(module, id=_short(module), marks=marks)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Neither building nor running a definition may reach out (jobs run as subprocesses)."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network is forbidden in the corpus")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_the_corpus_holds_at_least_20_definitions() -> None:
    assert len(ENTRIES) >= 20, [_short(m) for m in ENTRIES]
    for module in ENTRIES:
        assert callable(module.build) and callable(module.expect), _short(module)
        assert module.__doc__, f"{_short(module)} says what it shows"


@pytest.mark.parametrize("entry", [_param(m) for m in ENTRIES])
def test_corpus_entry(entry: ModuleType, tmp_path: Path, no_network: list[object]) -> None:
    name = _short(entry)
    with offline_session(REGION, BUCKET) as session:
        definition = entry.build(session).definition()
    assert json.loads(definition)["Steps"], "the SDK built a definition with steps"
    case = Case(name, tmp_path, definition)
    for script, text in {**COMMON_SCRIPTS, **getattr(entry, "SCRIPTS", {})}.items():
        case.put(f"{PREFIX}/code/{script}", text)
    if hasattr(entry, "prepare"):
        entry.prepare(case)
    drive = getattr(entry, "drive", None)
    try:
        run = drive(case) if drive else case.run(*getattr(entry, "PARAMS", ()))
        entry.expect(run)
    finally:
        case.close()
    assert no_network == []
