"""Opik's configuration read as the Opik SDK reads it: a temporary ~/.opik.config (found through
HOME, or OPIK_CONFIG_PATH), variables over the file, the one line that says where traces go, and
track_disable meaning what Opik documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.common import opik_config, traces
from components.common.job import JobError
from components.serving.rag import tracing

OPIK_VARIABLES = (
    "OPIK_URL_OVERRIDE",
    "OPIK_API_KEY",
    "OPIK_API_KEY_SECRET",
    "OPIK_WORKSPACE",
    "OPIK_PROJECT_NAME",
    "OPIK_TRACK_DISABLE",
    "OPIK_CONFIG_PATH",
    "LLM_TWIN_TRACES_FILE",
    "SM_PIPELINES_LOCAL_STATE",
)
SECRET_KEY = "test-key-not-real"  # pragma: allowlist secret


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of its own, so ~/.opik.config is the test's file (or none)."""
    for name in OPIK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def write_config(path: Path, **values: str) -> Path:
    lines = ["[opik]", *(f"{key} = {value}" for key, value in values.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_config_file_opik_configure_writes_is_read_from_home(home: Path) -> None:
    write_config(
        home / ".opik.config",
        url_override="http://127.0.0.1:5173/api/",
        workspace="default",
        project_name="twin-from-file",
    )
    settings = opik_config.opik_settings()
    assert settings.configured
    assert settings.url == "http://127.0.0.1:5173/api/"
    assert settings.project == "twin-from-file"
    assert settings.url_source == str(home / ".opik.config")
    assert traces.opik_configured() and traces.project_name() == "twin-from-file"


def test_variables_win_over_the_file_as_in_the_sdk(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        home / ".opik.config", url_override="http://127.0.0.1:1/api/", project_name="from-file"
    )
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://127.0.0.1:2/api/")
    settings = opik_config.opik_settings()
    assert settings.url == "http://127.0.0.1:2/api/"
    assert settings.url_source == "OPIK_URL_OVERRIDE"
    # What a variable does not set still comes from the file.
    assert settings.project == "from-file"


def test_opik_config_path_names_another_file(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = write_config(
        tmp_path / "team.config", url_override="http://127.0.0.1:9/api/", workspace="default"
    )
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(other))
    settings = opik_config.opik_settings()
    assert settings.url == "http://127.0.0.1:9/api/" and settings.url_source == str(other)


def test_an_api_key_in_the_file_configures_comet_and_is_never_shown(home: Path) -> None:
    write_config(home / ".opik.config", api_key=SECRET_KEY, workspace="team")
    settings = opik_config.opik_settings()
    assert settings.configured and settings.api_key == SECRET_KEY
    assert settings.url == "https://www.comet.com/opik/api/"
    assert SECRET_KEY not in settings.describe() and SECRET_KEY not in repr(settings)
    assert "API key set" in settings.describe()


def test_without_opik_traces_go_to_the_local_log_and_the_line_says_why(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "traces.jsonl"
    monkeypatch.setenv("LLM_TWIN_TRACES_FILE", str(log))
    settings = opik_config.opik_settings()
    assert not settings.configured and settings.project == "llm-twin"
    line = traces.destination()
    assert line.startswith(f"the local trace log {log}")
    assert f"no Opik URL configured in {home / '.opik.config'} or OPIK_URL_OVERRIDE" in line
    tracer = tracing.tracer_from_env()
    assert isinstance(tracer.sink, tracing.JsonlSink)
    assert "no Opik URL configured" in tracer.description


def test_a_blank_url_variable_names_no_server(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "")
    settings = opik_config.opik_settings()
    assert not settings.configured and settings.url is None


def test_track_disable_from_the_file_turns_tracing_off_only(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        home / ".opik.config", url_override="http://127.0.0.1:3/api/", track_disable="true"
    )
    settings = opik_config.opik_settings()
    # Tracking is off; Opik stays configured for what the SDK keeps doing (datasets,
    # experiments, prompts, feedback scores).
    assert settings.track_disable and settings.configured
    assert not tracing.tracer_from_env().enabled
    assert traces.destination().startswith("nowhere: tracking is off")


def test_a_misconfiguration_the_sdk_detects_is_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://localhost:5173/api/")
    monkeypatch.setenv("OPIK_WORKSPACE", "team")
    with pytest.raises(JobError) as caught:
        traces.opik_settings()
    message = str(caught.value)
    assert "\n" not in message and "workspace" in message and "OPIK_URL_OVERRIDE" in message


def test_a_bad_value_in_the_file_is_one_line_naming_it(home: Path) -> None:
    write_config(
        home / ".opik.config", url_override="http://127.0.0.1:3/api/", track_disable="perhaps"
    )
    with pytest.raises(JobError) as caught:
        traces.opik_settings()
    assert str(home / ".opik.config") in str(caught.value) and "\n" not in str(caught.value)
