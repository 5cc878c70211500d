"""GitHub Actions workflows: valid against GitHub's schema, zizmor-clean, pinned, and CI runs the
gates of `make test` in the same order."""

from __future__ import annotations

import importlib.util
import json
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


HEAD_SHA = "${{ github.event.workflow_run.head_sha }}"


def test_cd_runs_only_after_ci_succeeds_on_a_push_and_deploys_that_commit() -> None:
    workflow = load("cd.yml")
    assert workflow["name"] == "cd" and load("ci.yml")["name"] == "ci"
    assert triggers(workflow) == {
        "workflow_run": {
            "workflows": ["ci"],
            "types": ["completed"],
            "branches": ["staging", "main"],
        }
    }
    [job] = workflow["jobs"].values()
    condition = job["if"].split(" && ")
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    assert "github.event.workflow_run.event == 'push'" in condition  # never a pull request's run
    assert "github.event.workflow_run.head_repository.full_name == github.repository" in condition
    [checkout] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["ref"] == HEAD_SHA
    assert job["env"]["DEPLOY_SHA"] == HEAD_SHA
    # workflow_run's github.sha and github.ref are the default branch's: never used here.
    text = (WORKFLOWS / "cd.yml").read_text(encoding="utf-8")
    for default_branch_context in (
        "${{ github.sha",
        "${{ github.ref",
        "$GITHUB_SHA",
        "$GITHUB_REF",
    ):
        assert default_branch_context not in text, default_branch_context
    assert workflow["concurrency"]["group"] == "cd-${{ github.event.workflow_run.head_branch }}"


def test_cd_deploys_staging_and_production_through_oidc() -> None:
    workflow = load("cd.yml")
    assert workflow["concurrency"]["cancel-in-progress"] is False
    [job] = workflow["jobs"].values()
    environment = (
        "${{ github.event.workflow_run.head_branch == 'main' && 'production' || 'staging' }}"
    )
    assert job["environment"] == environment
    assert job["env"]["DEPLOY_ENV"] == environment
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    [credentials] = [s for s in job["steps"] if "configure-aws-credentials@" in s.get("uses", "")]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    text = (WORKFLOWS / "cd.yml").read_text(encoding="utf-8")
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_cd_builds_what_changed_tags_every_image_then_upserts_and_never_starts_a_run() -> None:
    job_steps = steps(load("cd.yml"))
    [plan] = [s for s in job_steps if s.get("id") == "images"]
    assert plan["run"] == (
        '.venv/bin/python .github/scripts/images.py plan "$DEPLOY_ENV" >> "$GITHUB_OUTPUT"'
    )
    builds = [s for s in job_steps if "docker/build-push-action@" in s.get("uses", "")]
    containers = sorted(p.parent.name for p in (ROOT / "containers").glob("*/Dockerfile"))
    assert [s["with"]["file"] for s in builds] == [
        f"containers/{name}/Dockerfile" for name in ["processing", "training", "serving"]
    ]
    assert sorted(s["with"]["file"].split("/")[1] for s in builds) == containers
    for build in builds:
        name = build["with"]["file"].split("/")[1]
        assert job_steps.index(plan) < job_steps.index(build)
        # Built only when ECR lacks the image of these inputs, and pushed under both tags.
        assert build["if"] == f"steps.images.outputs.{name}_build == 'true'"
        registry = "${{ steps.target.outputs.registry }}"
        image = f"{registry}/${{{{ steps.target.outputs.{name}_repository }}}}"
        assert build["with"]["tags"].splitlines() == [
            f"{image}:${{{{ steps.images.outputs.{name}_inputs_tag }}}}",
            f"{image}:{HEAD_SHA}",
        ]
        assert "type=registry" in build["with"]["cache-from"]
        assert "mode=max" in build["with"]["cache-to"]
        assert build["with"]["push"] is True
    # Every image carries the commit's tag before the pipelines are pinned to it.
    tag, upsert = job_steps[-2]["run"], job_steps[-1]["run"]
    assert (
        tag == '.venv/bin/python .github/scripts/images.py tag-commit "$DEPLOY_ENV" "$DEPLOY_SHA"'
    )
    assert upsert == 'make upsert-pipeline ENV="$DEPLOY_ENV" IMAGE_TAG="$DEPLOY_SHA"'
    assert job_steps.index(builds[-1]) < len(job_steps) - 2
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


# --- which images CD rebuilds: .github/scripts/images.py on a throwaway repository ------------


def images_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "cd_images", ROOT / ".github" / "scripts" / "images.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def image_repo(tmp_path: Path) -> Path:
    """A git repository with this project's Dockerfiles, pyproject, README and a components/."""
    repo = tmp_path / "repo"
    for name in ("processing", "training", "serving"):
        (repo / "containers" / name).mkdir(parents=True)
        dockerfile = ROOT / "containers" / name / "Dockerfile"
        (repo / "containers" / name / "Dockerfile").write_bytes(dockerfile.read_bytes())
        (repo / "containers" / name / "base-packages.txt").write_text("torch\n")
    (repo / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    (repo / "README.md").write_text("# twin\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("guide\n")
    (repo / "components" / "etl").mkdir(parents=True)
    (repo / "components" / "__init__.py").write_text("")
    (repo / "components" / "etl" / "__main__.py").write_text("print('etl')\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    return repo


ARGS = {"REGION": "eu-west-1", "DLC_ACCOUNT": "763104351884"}


def tags(module: Any, repo: Path) -> dict[str, str]:
    return {name: module.inputs_tag(name, ARGS, repo) for name in module.images(repo)}


def test_an_images_inputs_are_its_dockerfile_and_what_it_copies(image_repo: Path) -> None:
    module = images_script()
    assert module.copied_paths((image_repo / "containers/processing/Dockerfile").read_text()) == [
        "pyproject.toml",
        "components",
    ]
    paths = [entry.split(" ", 2)[2] for entry in module.inputs("training", image_repo)]
    assert paths == [
        "components/__init__.py",
        "components/etl/__main__.py",
        "containers/training/Dockerfile",
        "pyproject.toml",
    ]


def test_a_documentation_only_change_rebuilds_no_image(image_repo: Path) -> None:
    module = images_script()
    before = tags(module, image_repo)
    assert len(set(before.values())) == 3  # each image has its own inputs
    (image_repo / "README.md").write_text("# twin\n\nMore words.\n")
    (image_repo / "docs" / "guide.md").write_text("a better guide\n")
    (image_repo / "containers" / "serving" / "base-packages.txt").write_text("torch\nnumpy\n")
    git(image_repo, "commit", "-qam", "docs")
    assert tags(module, image_repo) == before


def test_a_change_to_an_input_rebuilds_exactly_the_images_that_copy_it(image_repo: Path) -> None:
    module = images_script()
    before = tags(module, image_repo)
    dockerfile = image_repo / "containers" / "training" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "# a change\n")
    git(image_repo, "commit", "-qam", "training image")
    after = tags(module, image_repo)
    assert {name for name in after if after[name] != before[name]} == {"training"}
    (image_repo / "components" / "etl" / "__main__.py").write_text("print('etl 2')\n")
    git(image_repo, "commit", "-qam", "code")
    assert all(value != after[name] for name, value in tags(module, image_repo).items())
    # The build arguments (the environment's region) are inputs too.
    other = {
        name: module.inputs_tag(name, {**ARGS, "REGION": "us-east-1"}, image_repo)
        for name in module.images(image_repo)
    }
    assert other != tags(module, image_repo)


def test_cd_plans_builds_from_ecr_and_tags_every_image_with_the_commit(
    image_repo: Path, fake_aws: None
) -> None:
    import boto3
    from moto import mock_aws

    module = images_script()
    repositories = {name: f"llm-twin-{name}" for name in module.images(image_repo)}
    with mock_aws():
        ecr = boto3.client("ecr", region_name="eu-west-1")
        for repository in repositories.values():
            ecr.create_repository(repositoryName=repository)
        plan = module.plan(ecr, repositories, ARGS, image_repo)
        assert {key: value for key, value in plan.items() if key.endswith("_build")} == {
            "processing_build": "true",
            "serving_build": "true",
            "training_build": "true",
        }
        # CD builds and pushes each image under its inputs tag and the first commit's SHA.
        first = "1" * 40
        for name, repository in repositories.items():
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"digest": f"sha256:{name}"},
                    "layers": [],
                }
            )
            for tag in (plan[f"{name}_inputs_tag"], first):
                ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
        # A documentation-only commit: nothing to build; each image gets the new SHA as a tag.
        (image_repo / "README.md").write_text("# twin, documented\n")
        git(image_repo, "commit", "-qam", "docs")
        again = module.plan(ecr, repositories, ARGS, image_repo)
        assert {k: v for k, v in again.items() if k.endswith("_inputs_tag")} == {
            k: v for k, v in plan.items() if k.endswith("_inputs_tag")
        }
        assert {value for key, value in again.items() if key.endswith("_build")} == {"false"}
        second = "2" * 40
        lines = module.tag_commit(ecr, repositories, ARGS, second, image_repo)
        assert lines == [
            f"{name}: llm-twin-{name}:{second} = {plan[f'{name}_inputs_tag']} "
            "(unchanged, not rebuilt)"
            for name in ("processing", "serving", "training")
        ]
        for name, repository in repositories.items():
            found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": second}])[
                "imageDetails"
            ][0]
            assert {second, plan[f"{name}_inputs_tag"], first} <= set(found["imageTags"])
        # Idempotent: a re-run of the job changes nothing.
        assert all(
            line.endswith("exists")
            for line in module.tag_commit(ecr, repositories, ARGS, second, image_repo)
        )
