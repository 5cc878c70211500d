"""AWS faults and ownership: teardown deletes exactly the objects upsert uploaded (tagged as
ours) and keeps everything else; a malformed endpoint URL, or an endpoint answering garbage,
ends upsert, diff and teardown with exit 3 and one `error:` line naming the call and the
resource, never a traceback.

Every endpoint here is in process (moto) or a loopback server of this file on 127.0.0.1; the
CLI runs with AWS_MAX_ATTEMPTS=1 and one-second timeouts, so no case waits on retries."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from sm_pipelines.aws import clients
from sm_pipelines.cli import main
from sm_pipelines.compile.bundle import collect_bundle
from tests.conftest import ROOT, STAGING_BUCKET, STAGING_REGION

PREFIX = "llm-twin"
CODE = f"s3://{STAGING_BUCKET}/{PREFIX}/code/"
DEFINITIONS = f"s3://{STAGING_BUCKET}/{PREFIX}/definitions/"
OURS = {"sm-pipelines:managed-by": "sm-pipelines", "sm-pipelines:environment": "staging"}


def _cli(project: Path, *args: str) -> int:
    return main(["--definitions", str(project / "definitions"), *args])


def _s3() -> Any:
    return boto3.client("s3", region_name=STAGING_REGION)


def _keys(prefix: str = PREFIX) -> set[str]:
    pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=STAGING_BUCKET, Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _tags(key: str) -> dict[str, str]:
    tag_set = _s3().get_object_tagging(Bucket=STAGING_BUCKET, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def _put(key: str, body: bytes = b"not ours", tagging: str | None = None) -> None:
    extra = {"Tagging": tagging} if tagging else {}
    _s3().put_object(Bucket=STAGING_BUCKET, Key=key, Body=body, **extra)


def _upsert(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert _cli(project, "upsert", "--env", "staging") == 0, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def _teardown(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert _cli(project, "teardown", "--env", "staging", "--yes") == 0, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def _bundle_keys(project: Path) -> set[str]:
    bundle = collect_bundle(project)
    base = f"{PREFIX}/code/{bundle.digest}"
    return {f"{base}/sourcedir.tar.gz"} | {f"{base}/src/{path}" for path, _ in bundle.files}


# Objects under our prefixes that sm-pipelines never uploaded: another tool's file, a file
# inside a hash-like folder, an object another environment's upsert tagged, a note next to
# the definitions. And one outside the prefixes, which teardown never even lists.
FOREIGN = {
    f"{PREFIX}/code/README.txt": None,
    f"{PREFIX}/code/{'f' * 64}/src/someone/else.py": "owner=data-team",
    f"{PREFIX}/code/{'e' * 64}/sourcedir.tar.gz": (
        "sm-pipelines%3Amanaged-by=sm-pipelines&sm-pipelines%3Aenvironment=production"
    ),
    f"{PREFIX}/definitions/notes.json": None,
    f"{PREFIX}/raw/articles/one.md": None,
}


def _put_foreign() -> None:
    for key, tagging in FOREIGN.items():
        _put(key, tagging=tagging)


@pytest.mark.usefixtures("staging_account")
def test_teardown_deletes_what_upsert_uploaded_and_keeps_foreign_objects(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _put_foreign()
    lines = _upsert(project, capsys)
    ours = _bundle_keys(project)
    assert lines[0].endswith(f": uploaded {len(ours)} objects")
    assert _keys() == ours | set(FOREIGN)
    for key in ours:
        assert _tags(key) == OURS, key
    assert _tags(f"{PREFIX}/code/README.txt") == {}  # upsert never touches foreign objects

    removed = _teardown(project, capsys)
    assert f"objects {CODE}: deleted ({len(ours)} objects)" in removed
    assert (
        f"objects {CODE}: kept (3 objects not tagged as uploaded by sm-pipelines for staging)"
        in (removed)
    )
    assert (
        f"objects {DEFINITIONS}: kept (1 object not tagged as uploaded by sm-pipelines for staging)"
        in (removed)
    )
    assert not any(line.startswith(f"objects {DEFINITIONS}: deleted") for line in removed)
    assert _keys() == set(FOREIGN)
    assert _tags(f"{PREFIX}/code/{'f' * 64}/src/someone/else.py") == {"owner": "data-team"}


@pytest.mark.usefixtures("staging_account")
def test_upsert_twice_then_teardown_leaves_nothing_of_ours(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _upsert(project, capsys)
    ours = _bundle_keys(project)
    assert first[0].endswith(f": uploaded {len(ours)} objects")
    second = _upsert(project, capsys)
    assert second[0].endswith(": already present")
    assert "pipeline llm-twin-ct: unchanged" in second
    assert _keys() == ours
    assert all(_tags(key) == OURS for key in ours)

    # Changed code is a second bundle under its own hash; both are ours.
    (project / "components" / "added_module.py").write_text("VALUE = 1\n", encoding="utf-8")
    third = _upsert(project, capsys)
    changed = _bundle_keys(project)
    assert ours.isdisjoint(changed)
    assert third[0].endswith(f": uploaded {len(changed)} objects")
    assert _keys() == ours | changed

    removed = _teardown(project, capsys)
    assert f"objects {CODE}: deleted ({len(ours) + len(changed)} objects)" in removed
    assert not any(": kept " in line for line in removed)
    assert _keys() == set()
    assert _cli(project, "teardown", "--env", "staging", "--yes") == 0
    assert "nothing to remove" in capsys.readouterr().out


@pytest.mark.usefixtures("staging_account")
def test_large_definitions_are_tagged_and_torn_down(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sm_pipelines import limits

    monkeypatch.setattr(limits, "DEFINITION_INLINE_MAX_CHARS", 100)
    _put(f"{PREFIX}/definitions/notes.json")
    _upsert(project, capsys)
    uploaded = _keys(f"{PREFIX}/definitions/") - {f"{PREFIX}/definitions/notes.json"}
    assert {key.split("/")[2] for key in uploaded} == {
        "llm-twin-ct",
        "llm-twin-deploy",
        "llm-twin-monitoring",
    }
    assert all(_tags(key) == OURS for key in uploaded)

    removed = _teardown(project, capsys)
    assert f"objects {DEFINITIONS}: deleted ({len(uploaded)} objects)" in removed
    assert _keys(f"{PREFIX}/definitions/") == {f"{PREFIX}/definitions/notes.json"}


@pytest.mark.usefixtures("staging_account")
def test_untagged_bundle_of_an_older_version_is_adopted_and_older_ones_kept(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older sm-pipelines uploaded objects without tags. Upsert adopts the bundle it ships
    (its keys are derived from its content), keeping the objects' other tags and restoring a
    missing file; teardown removes it and keeps older untagged bundles, counted."""
    bundle = collect_bundle(project)
    base = f"{PREFIX}/code/{bundle.digest}"
    missing_path, missing_data = bundle.files[0]
    for path, data in bundle.files[1:]:
        _put(f"{base}/src/{path}", data)
    _put(f"{base}/sourcedir.tar.gz", bundle.tarball(), tagging="retention=long")
    older = {f"{PREFIX}/code/{'0' * 64}/sourcedir.tar.gz", f"{PREFIX}/code/{'0' * 64}/src/a.py"}
    for key in older:
        _put(key, b"old code")

    lines = _upsert(project, capsys)
    ours = _bundle_keys(project)
    assert lines[0].endswith(
        f": already present (tagged {len(ours)} objects uploaded without sm-pipelines tags)"
    )
    assert _tags(f"{base}/sourcedir.tar.gz") == {**OURS, "retention": "long"}
    body = _s3().get_object(Bucket=STAGING_BUCKET, Key=f"{base}/src/{missing_path}")["Body"]
    assert body.read() == missing_data
    assert all(_tags(key) == OURS for key in ours - {f"{base}/sourcedir.tar.gz"})
    assert _upsert(project, capsys)[0].endswith(": already present")

    removed = _teardown(project, capsys)
    assert f"objects {CODE}: deleted ({len(ours)} objects)" in removed
    assert (
        f"objects {CODE}: kept (2 objects not tagged as uploaded by sm-pipelines for staging)"
        in (removed)
    )
    assert _keys() == older


@pytest.mark.usefixtures("staging_account")
def test_bundle_tagged_for_another_environment_is_left_to_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = collect_bundle(project)
    tarball = f"{PREFIX}/code/{bundle.digest}/sourcedir.tar.gz"
    production = "sm-pipelines%3Amanaged-by=sm-pipelines&sm-pipelines%3Aenvironment=production"
    _put(tarball, bundle.tarball(), tagging=production)
    lines = _upsert(project, capsys)
    assert lines[0].endswith(
        ": already present (tagged for another environment sharing the bucket and prefix)"
    )
    assert _tags(tarball)["sm-pipelines:environment"] == "production"
    removed = _teardown(project, capsys)
    assert (
        f"objects {CODE}: kept (1 object not tagged as uploaded by sm-pipelines for staging)"
        in (removed)
    )
    assert _keys() == {tarball}


# --- endpoints that answer garbage ----------------------------------------------------------


def _linger_reset(handler: BaseHTTPRequestHandler) -> None:
    """Close with RST rather than FIN: the client sees 'connection reset by peer'."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


def _raw(data: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    return answer


def _reply(status: int, body: bytes, content_type: str) -> Callable[..., None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def _close(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def _hang(handler: BaseHTTPRequestHandler) -> None:
    """Answer nothing until the client's read timeout gives up (bounded: 5 s at most)."""
    handler.server.stop.wait(5)  # type: ignore[attr-defined]
    handler.close_connection = True


HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

# kind -> how the server answers every request, and what the one error line must say (any of).
FAULTS: dict[str, tuple[Callable[..., None], tuple[str, ...]]] = {
    "html-500": (_reply(500, HTML, "text/html"), ("HTTP 500",)),
    "html-502": (_reply(502, HTML, "text/html"), ("HTTP 502",)),
    "html-404": (_reply(404, HTML, "text/html"), ("HTTP 404",)),
    "html-200": (_reply(200, HTML, "text/html"), ("no TagSet", "not a JSON object")),
    "binary-200": (
        _reply(200, b"\x00\xff\xfe garbage \x80", "application/octet-stream"),
        ("HTTP 500", "not a JSON object"),
    ),
    "text-200": (
        _reply(200, b"Service temporarily unavailable", "text/plain"),
        ("HTTP 500", "not a JSON object"),
    ),
    "json-array-200": (
        _reply(200, b"[1, 2, 3]", "application/json"),
        ("HTTP 500", "not a JSON object"),
    ),
    "truncated": (
        _raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 4096\r\n\r\n"
            b'<?xml version="1.0"?><Tagging><TagSet><Tag><Key>sm-pi'
        ),
        ("HTTP 500", "not a JSON object", "Connection was closed", "unreadable"),
    ),
    "bad-chunked": (
        _raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n"),
        ("Connection was closed", "unreadable"),
    ),
    "not-http": (_raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), ("Connection was closed",)),
    "close": (_close, ("Connection was closed",)),
    "reset": (_linger_reset, ("Connection was closed",)),
    "hang": (_hang, ("Read timeout",)),
}


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FaultHandler)
        self.kind = "html-500"
        self.requests = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and half-closed sockets are the point here


class FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        with self.server.lock:
            self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        FAULTS[self.server.kind][0](self)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer


@pytest.fixture(scope="module")
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One read-only copy of the project for the CLI runs that never get past the endpoint."""
    root = tmp_path_factory.mktemp("project")
    for name in ("definitions", "components", "data"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared project never changes, so compile it once: these runs end at their first
    AWS call, and compiling (~0.4 s) would otherwise dominate them."""
    from sm_pipelines.aws import diff, upsert

    original = upsert.compile_environment

    def compile_environment(
        definitions: Any, env_name: str, pipelines: list[str] | None = None, **kwargs: Any
    ) -> list:
        key = (env_name, tuple(pipelines or ()))
        if key not in _COMPILED:
            _COMPILED[key] = original(definitions, env_name, pipelines, **kwargs)
        return _COMPILED[key]

    monkeypatch.setattr(upsert, "compile_environment", compile_environment)
    monkeypatch.setattr(diff, "compile_environment", compile_environment)


_COMPILED: dict[tuple[str, tuple[str, ...]], list] = {}


@pytest.fixture
def isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials, no shared config or profile, one attempt per call, short timeouts."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": STAGING_REGION,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(key, raising=False)
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(clients, "CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.setattr(clients, "READ_TIMEOUT_S", 0.5)


# The first AWS call of each command, which the one error line must name with its resource.
FIRST_CALL = {
    "upsert": f"error: s3 get_object_tagging s3://{STAGING_BUCKET}/{PREFIX}/code/",
    "diff": "error: sagemaker describe_pipeline llm-twin-",
    "teardown": "error: events list_rules: ",
}
COMMANDS = {
    "upsert": ["upsert", "--env", "staging"],
    "diff": ["diff", "--env", "staging"],
    "teardown": ["teardown", "--env", "staging", "--yes"],
}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert err.endswith("\n")
    (line,) = lines
    assert line.startswith("error: ")
    assert "internal error" not in line
    assert len(line) < 700
    return line


@pytest.mark.usefixtures("isolated_aws", "compiled_once")
@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_garbage_from_the_endpoint_is_one_line_exit_3(
    kind: str,
    command: str,
    fault_server: FaultServer,
    shared_project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_server.url)
    fault_server.kind = kind
    fault_server.requests = 0
    capsys.readouterr()
    started = time.monotonic()
    assert _cli(shared_project, *COMMANDS[command]) == 3
    line = _one_error_line(capsys)
    assert line.startswith(FIRST_CALL[command]), line
    assert any(reason in line for reason in FAULTS[kind][1]), line
    assert fault_server.requests == 1  # the first call failed, and was not retried
    assert time.monotonic() - started < 10


MALFORMED = {
    "not a url": "Invalid endpoint",
    "http://[::1": "Invalid IPv6 URL",
    "ftp://x": "expected http(s)://host[:port]",
    "http://": "Invalid endpoint",
    "://x": "Invalid endpoint",
    "http://127.0.0.1:99999": "expected http(s)://host[:port]",
    "http://host:notaport": "expected http(s)://host[:port]",
    "https://exa mple.com": "Invalid endpoint",
}
FIRST_CLIENT = {"upsert": "s3", "diff": "sagemaker", "teardown": "events"}


@pytest.mark.usefixtures("isolated_aws")
@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("url", sorted(MALFORMED))
def test_malformed_endpoint_url_is_one_line_exit_3(
    url: str,
    command: str,
    shared_project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    capsys.readouterr()
    assert _cli(shared_project, *COMMANDS[command]) == 3
    line = _one_error_line(capsys)
    service = FIRST_CLIENT[command]
    assert line.startswith(
        f"error: {service} client for {STAGING_REGION}: invalid endpoint URL "
    ), line
    assert repr(url) in line and "AWS_ENDPOINT_URL" in line
    assert MALFORMED[url] in line


@pytest.mark.usefixtures("isolated_aws")
@pytest.mark.parametrize(
    ("command", "variable", "url", "expected"),
    [
        (
            "teardown",
            "AWS_ENDPOINT_URL_S3",
            "gopher://s3.example",
            "error: s3 client for eu-west-1: invalid endpoint URL 'gopher://s3.example' "
            "(from AWS_ENDPOINT_URL_S3): expected http(s)://host[:port]",
        ),
        (
            "upsert",
            "AWS_ENDPOINT_URL_SAGEMAKER",
            "http://[::1",
            "error: sagemaker client for eu-west-1: invalid endpoint URL 'http://[::1' "
            "(from AWS_ENDPOINT_URL_SAGEMAKER): Invalid IPv6 URL",
        ),
        (
            "upsert",
            "AWS_ENDPOINT_URL_EVENTBRIDGE",
            "http://127.0.0.1:70000",
            "error: events client for eu-west-1: invalid endpoint URL 'http://127.0.0.1:70000' "
            "(from AWS_ENDPOINT_URL_EVENTBRIDGE): expected http(s)://host[:port]",
        ),
    ],
)
def test_one_malformed_service_endpoint_fails_before_any_call(
    command: str,
    variable: str,
    url: str,
    expected: str,
    fault_server: FaultServer,
    shared_project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every client is made before the first call, so a command that would fail half-way (a
    teardown that deleted the rules, then could not reach S3) fails before it changes anything."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_server.url)
    monkeypatch.setenv(variable, url)
    fault_server.requests = 0
    capsys.readouterr()
    assert _cli(shared_project, *COMMANDS[command]) == 3
    assert _one_error_line(capsys) == expected
    assert fault_server.requests == 0


@pytest.mark.usefixtures("isolated_aws")
def test_missing_profile_is_one_line_exit_3(
    shared_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    assert _cli(shared_project, *COMMANDS["teardown"]) == 3
    line = _one_error_line(capsys)
    assert line.startswith("error: events client for eu-west-1: ")
    assert "no-such-profile" in line


# --- the client guard, unit by unit ---------------------------------------------------------


def test_guarded_client_turns_parser_failures_into_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What botocore's parsers raise on a garbled success body (not BotoCoreError)."""
    from botocore.parsers import ResponseParserError

    from sm_pipelines.errors import AwsError

    for raised in (
        ResponseParserError("Unable to parse response (no element found), invalid XML\n<x"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        AttributeError("'list' object has no attribute 'get'"),
        KeyError("ListTopicsResult"),
        ValueError("invalid literal for int() with base 10: 'abc'"),
    ):

        def make_api_call(operation: str, params: dict, raised: Exception = raised) -> None:
            raise raised

        call = clients._guarded(make_api_call, "http://127.0.0.1:9")
        with pytest.raises(AwsError) as caught, clients.aws_errors("sns list_topics"):
            call("ListTopics", {})
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(
            f"sns list_topics: unreadable ListTopics response from http://127.0.0.1:9: "
            f"{type(raised).__name__}: "
        )


def test_long_messages_are_shortened() -> None:
    from botocore.exceptions import ClientError

    from sm_pipelines.errors import AwsError

    error = ClientError(
        {"Error": {"Code": "500", "Message": "<html>" + "x" * 5000 + "\n</html>"}}, "ListRules"
    )
    with pytest.raises(AwsError) as caught, clients.aws_errors("events list_rules"):
        raise error
    message = str(caught.value)
    assert message.startswith("events list_rules: HTTP 500: <html>xxx")
    assert message.endswith("...") and "\n" not in message
    assert len(message) < 400


def test_a_bare_404_is_not_taken_for_absence() -> None:
    from botocore.exceptions import ClientError

    assert not clients.is_not_found(ClientError({"Error": {"Code": "404"}}, "DescribePipeline"))
    assert clients.is_not_found(ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObjectTagging"))
    assert not clients.is_not_found(ValueError("404"))
