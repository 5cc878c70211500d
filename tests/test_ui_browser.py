"""The pipeline view in a real headless Chromium (Debian's `chromium`, driven by Playwright's
own driver; `playwright install` is never run): the pipeline graph has every step, a run started
from the page colours its steps as they go, a failed step's panel gives the failure reason, and
approving a model version changes it in the registry. Screenshots of each go to
test-artifacts/ui/ (git-ignored): `.venv/bin/python -m pytest -q tests/test_ui_browser.py`."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sm_pipelines.local.state import LocalState
from sm_pipelines.ui.app import create_app
from sm_pipelines.ui.serve import listen
from sm_pipelines.ui.vendor import missing_assets
from tests.ui_fixture import GROUP, PIPELINE, STEPS, make_project

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = Path(os.environ.get("SM_PIPELINES_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "ui"
# Without the background-networking flags Chromium keeps calling services that cannot be
# reached here (and on many users' machines).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
    pytest.skip(
        f"no Chromium at {CHROMIUM}: the browser tests need Debian's `chromium` package, which "
        "`make setup` installs with apt-get where it may (root or sudo -n)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the `playwright` package (the test extra) is not installed"
)
if missing_assets():
    pytest.skip(
        f"the view's browser libraries are missing ({', '.join(missing_assets())}): run "
        "`make ui-assets`",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LocalState]:
    return make_project(tmp_path_factory.mktemp("ui-browser"))


@contextlib.contextmanager
def _serving(app: Any) -> Iterator[str]:
    """The app on a free 127.0.0.1 port in a thread, as `sm-pipelines ui` serves it."""
    import uvicorn

    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the view's server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        app.state.actions.wait(60)
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def base_url(project: tuple[Path, LocalState]) -> Iterator[str]:
    with _serving(create_app(*project)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(30_000)
    yield opened
    context.close()
    assert errors == [], f"the page raised: {errors}"


def _open(page: Any, hash_route: str) -> None:
    page.goto(f"/{hash_route}")
    page.wait_for_function(f"document.body.dataset.ready === {hash_route!r}")


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _start_from_page(page: Any, **values: str) -> str:
    _open(page, f"#/pipelines/{PIPELINE}")
    for name, value in values.items():
        page.fill(f"#param-{name}", value)
    page.click("#run-button")
    page.wait_for_url("**/#/executions/*")
    return page.url.rsplit("/", 1)[-1]


def test_the_pipeline_page_draws_every_step(page: Any) -> None:
    _open(page, f"#/pipelines/{PIPELINE}")
    drawn = page.eval_on_selector_all(
        "#graph g.node[data-step]", "ns => ns.map(n => n.dataset.step)"
    )
    assert sorted(drawn) == sorted(STEPS)
    labels = page.inner_text("#graph")
    assert "Train-model" in labels and "Quality-too-low" in labels
    assert page.locator("#param-FailTrain").input_value() == "no"
    _shot(page, "pipeline-graph.png")


def test_the_projects_ct_pipeline_draws_every_step_shape(browser: Any, tmp_path: Path) -> None:
    from sm_pipelines.definition import document

    compiled = document.read(document.compiled_path(ROOT / "definitions", "local", "llm-twin-ct"))
    names = sorted(step["Name"] for step in document.all_steps(compiled.data))
    app = create_app(ROOT / "definitions", LocalState.at(tmp_path))
    with _serving(app) as url:
        context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        _open(page, "#/pipelines/llm-twin-ct")
        drawn = page.eval_on_selector_all(
            "#graph g.node[data-step]", "ns => ns.map(n => n.dataset.step)"
        )
        assert sorted(drawn) == names
        assert page.locator("h2:text('Triggers') + table tbody tr").count() >= 2
        _shot(page, "llm-twin-ct-graph.png")
        context.close()


def test_a_run_started_from_the_page_colours_its_steps_as_they_go(page: Any) -> None:
    execution = _start_from_page(page, PrepareSeconds="5")
    page.wait_for_selector('#graph g.node[data-step="prepare"][data-status="Executing"]')
    assert page.get_attribute('#graph g.node[data-step="evaluate"]', "data-status") == "Pending"
    _shot(page, "running-execution.png")
    page.wait_for_selector('#graph g.node[data-step="evaluate"][data-status="Succeeded"]')
    page.wait_for_selector("h1 .badge.Succeeded")
    statuses = page.eval_on_selector_all(
        "#graph g.node[data-step]", "ns => ns.map(n => [n.dataset.step, n.dataset.status])"
    )
    assert dict(statuses)["prepare"] == "Succeeded"
    assert dict(statuses)["quality-too-low"] == "NotExecuted"
    assert page.locator('tr[data-step="train"] .badge').inner_text() == "Succeeded"
    assert execution in page.url
    _shot(page, "succeeded-execution.png")


def test_a_failed_steps_panel_gives_its_failure_reason(page: Any) -> None:
    _start_from_page(page, FailTrain="yes")
    page.wait_for_selector('#graph g.node[data-step="train"][data-status="Failed"]')
    page.click('#graph g.node[data-step="train"]')
    page.wait_for_url("**/steps/train")
    reason = page.wait_for_selector("#failure-reason")
    assert "loss diverged: NaN at epoch 1" in reason.inner_text()
    assert "epoch 1: loss nan" in page.inner_text("#log-tail")
    assert page.is_visible("#retry-button")
    _shot(page, "failed-step.png")


def test_approving_a_model_version_from_the_page(
    page: Any, project: tuple[Path, LocalState]
) -> None:
    _open(page, "#/models")
    row = f'tr[data-version="{GROUP}/3"]'
    assert page.inner_text(f"{row} .status") == "PendingManualApproval"
    assert page.locator('canvas[data-metric="answer_quality"]').count() == 1
    page.fill(f"{row} .reason", "reads well")
    page.click(f"{row} .approve")
    page.wait_for_function(f"document.querySelector('{row} .status')?.innerText === 'Approved'")
    assert "Approved by" in page.inner_text(row) and "reads well" in page.inner_text(row)
    assert "Approved" in project[1].events_file.read_text()
    _shot(page, "models.png")


def test_monitoring_page_shows_traces_reports_and_alerts(page: Any) -> None:
    _open(page, "#/monitoring")
    assert page.locator('tr[data-trace="trace-1"]').count() == 1
    assert "tiny failed" in page.inner_text("main")
    _shot(page, "monitoring.png")
