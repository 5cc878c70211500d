"""CLI behaviour a user meets first: fast help, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sm_pipelines.cli import main


def test_help_does_not_import_sagemaker_or_boto3() -> None:
    code = (
        "import sys\n"
        "from sm_pipelines.cli import build_parser\n"
        "try:\n"
        "    build_parser().parse_args(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sagemaker', 'boto3', 'pydantic')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_environment_is_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--definitions", str(project / "definitions"), "build", "--env", "qa"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {project}/definitions/environments/qa.yaml: environment 'qa' does not exist; "
        "known environments: local, production, staging\n"
    )


def test_missing_definitions_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--definitions", str(tmp_path / "nope"), "validate"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}/nope: definitions folder not found\n"


def test_graph_of_an_unbuilt_pipeline(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--definitions", str(project / "definitions"), "graph", "nope"]) == 2
    assert "no compiled definition; run `sm-pipelines build` first" in capsys.readouterr().err
