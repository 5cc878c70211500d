"""GitHub Actions workflows: valid against GitHub's schema, zizmor-clean, pinned, and CI runs the
gates of `make test` in the same order."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")
# Each gate as it appears in ci.yml steps and in the Makefile's `test` recipe, in order.
GATES = [
    ("secret scan", r"gitleaks/gitleaks-action@", r"detect-secrets-hook|\$\(LEAK_SCAN\)"),
    ("ruff check", r"ruff check", r"ruff check"),
    ("ruff format", r"ruff format --check", r"ruff format --check"),
    ("build check", r"sm-pipelines build --check", r"\$\(CLI\) build --check"),
    ("validate", r"sm-pipelines validate", r"\$\(CLI\) validate"),
    ("tests", r"pytest", r"pytest"),
]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as True.
    return workflow.get("on", workflow.get(True))


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def step_text(step: dict[str, Any]) -> str:
    return f"{step.get('uses', '')}\n{step.get('run', '')}"


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_matches_githubs_workflow_schema(name: str) -> None:
    # The schema is vendored in check-jsonschema: no network.
    done = run(
        BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", WORKFLOWS / name
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    steps: []\n", encoding="utf-8")  # no runs-on
    done = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", broken)
    assert done.returncode != 0


def zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    # --offline: only the audits that need no GitHub API (no token, no network).
    return run(BIN / "zizmor", "--offline", "--no-progress", "--color=never", target)


def test_zizmor_finds_nothing() -> None:
    done = zizmor(WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_catches_injection_and_unpinned_actions(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(
        "on: pull_request_target\n"
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    done = zizmor(folder)
    assert done.returncode != 0
    for audit in ("template-injection", "unpinned-uses", "dangerous-triggers"):
        assert audit in done.stdout


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_every_action_is_pinned_to_a_commit_with_its_version(name: str) -> None:
    lines = (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()
    uses = [line for line in lines if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses
    for line in uses:
        reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert PINNED.match(reference), line
        assert VERSION_COMMENT.search(line), f"no `# vX.Y.Z` comment: {line}"


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_checkout_keeps_no_credentials_and_permissions_are_read_only(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {"contents": "read"}
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        # Contexts reach shell scripts through env:, never spliced into them.
        assert "${{" not in step.get("run", ""), step["name"]


def test_ci_triggers_and_cancels_superseded_runs() -> None:
    workflow = load("ci.yml")
    on = triggers(workflow)
    assert "pull_request" in on
    assert on["push"]["branches"] == ["staging", "main"]
    assert workflow["concurrency"]["cancel-in-progress"] is True


def test_ci_runs_the_gates_in_order_as_separate_steps() -> None:
    texts = [step_text(step) for step in steps(load("ci.yml"))]
    positions = []
    for gate, pattern, _ in GATES:
        found = [i for i, text in enumerate(texts) if re.search(pattern, text)]
        assert found, f"ci.yml has no {gate} step"
        positions.append(found[0])
    assert positions == sorted(positions), dict(zip([g for g, *_ in GATES], positions, strict=True))
    # One gate per step, except that build --check and validate share one.
    assert len(set(positions)) == len(GATES) - 1


def test_make_test_runs_the_same_gates_in_the_same_order() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"(?ms)^test:[^\n]*\n((?:\t[^\n]*\n)+)", makefile)
    assert recipe, "no test target"
    lines = recipe.group(1).splitlines()
    positions = []
    for gate, _, pattern in GATES:
        found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
        assert found, f"make test has no {gate} step"
        positions.append(found[0])
    assert positions == sorted(positions) and len(set(positions)) == len(GATES)
    assert lines[0].strip() == "$(LEAK_SCAN)"  # the secret scan comes first


def test_cd_deploys_staging_and_production_through_oidc() -> None:
    workflow = load("cd.yml")
    assert triggers(workflow) == {"push": {"branches": ["staging", "main"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    [job] = workflow["jobs"].values()
    environment = "${{ github.ref_name == 'main' && 'production' || 'staging' }}"
    assert job["environment"] == environment
    assert job["env"]["DEPLOY_ENV"] == environment
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    [credentials] = [s for s in job["steps"] if "configure-aws-credentials@" in s.get("uses", "")]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    text = (WORKFLOWS / "cd.yml").read_text(encoding="utf-8")
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_cd_builds_every_container_then_upserts_and_never_starts_a_run() -> None:
    job_steps = steps(load("cd.yml"))
    builds = [s for s in job_steps if "docker/build-push-action@" in s.get("uses", "")]
    containers = sorted(p.parent.name for p in (ROOT / "containers").glob("*/Dockerfile"))
    assert [s["with"]["file"] for s in builds] == [
        f"containers/{name}/Dockerfile" for name in ["processing", "training", "serving"]
    ]
    assert sorted(s["with"]["file"].split("/")[1] for s in builds) == containers
    for build in builds:
        name = build["with"]["file"].split("/")[1]
        repository = f"${{{{ steps.target.outputs.{name}_repository }}}}"
        assert build["with"]["tags"].endswith(f"/{repository}:${{{{ github.sha }}}}")
        assert "type=registry" in build["with"]["cache-from"]
        assert "mode=max" in build["with"]["cache-to"]
        assert build["with"]["push"] is True
    upsert = job_steps[-1]["run"]
    assert upsert == 'make upsert-pipeline ENV="$DEPLOY_ENV" IMAGE_TAG="$GITHUB_SHA"'
    assert job_steps.index(builds[-1]) < len(job_steps) - 1
    everything = (WORKFLOWS / "cd.yml").read_text(encoding="utf-8").lower()
    for starts_a_run in ("start-pipeline-execution", "startpipelineexecution", "pipelines run"):
        assert starts_a_run not in everything


@pytest.mark.parametrize("env_name", ["staging", "production"])
def test_cd_reads_region_account_and_repositories_from_the_environment(env_name: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "deploy_target", ROOT / ".github" / "scripts" / "deploy_target.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs = module.outputs(env_name)
    env = yaml.safe_load(
        (ROOT / "definitions" / "environments" / f"{env_name}.yaml").read_text(encoding="utf-8")
    )
    assert outputs["region"] == env["region"]
    assert outputs["registry"] == f"{env['account_id']}.dkr.ecr.{env['region']}.amazonaws.com"
    for name in ("processing", "training", "serving"):
        assert outputs[f"{name}_repository"] == env["images"][name]["repository"]
