"""Each component runs as SageMaker runs it (`python -m components.<job>`) under a moved /opt/ml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(job: str, root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"components.{job}", *args],
        env={**os.environ, "SM_ML_ROOT": str(root), "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
    )


def test_training_contract_reads_channel_and_hyperparameters(tmp_path: Path) -> None:
    # Training itself is tested in tests/components/model; here only that the job reads
    # hyperparameters.json as SageMaker writes it (JSON-encoded strings) and checks them first.
    channel = tmp_path / "input/data/train"
    channel.mkdir(parents=True)
    (channel / "train.jsonl").write_text('{"instruction": "q", "answer": "a"}\n')
    config = tmp_path / "input/config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"epochs": "2", "lr": '"0.1"'}))
    done = _run("train", tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("train: unknown hyperparameter 'lr'")


def test_training_without_rows_fails_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "input/data/train").mkdir(parents=True)
    done = _run("train", tmp_path)
    assert done.returncode == 1
    assert "train split: no *.jsonl files in" in done.stderr


def test_etl_without_sources_exits_2(tmp_path: Path) -> None:
    done = _run("etl", tmp_path, "--sources", " , ", "--author", "Ada")
    assert done.returncode == 2
    assert "names no source" in done.stderr
