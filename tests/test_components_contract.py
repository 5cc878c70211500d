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


def test_data_chain_publishes_digests_and_datasets(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.md").write_text("# hello\n")
    etl = _run("etl", tmp_path, "--sources", str(source), "--author", "Ada")
    assert etl.returncode == 0, etl.stderr
    snapshot = json.loads((tmp_path / "processing/output/snapshot/snapshot.json").read_text())
    assert snapshot["documents"] == 1 and len(snapshot["digest"]) == 64

    (source / "a.md").write_text("# changed\n")
    _run("etl", tmp_path, "--sources", str(source), "--author", "Ada")
    changed = json.loads((tmp_path / "processing/output/snapshot/snapshot.json").read_text())
    assert changed["digest"] != snapshot["digest"]

    dataset = _run("dataset", tmp_path, "--features-digest", "abc")
    assert dataset.returncode == 0, dataset.stderr
    train = (tmp_path / "processing/output/train/train.jsonl").read_text().splitlines()
    test = (tmp_path / "processing/output/test/test.jsonl").read_text().splitlines()
    assert len(train) == 8 and len(test) == 2


def test_training_contract_reads_channel_and_hyperparameters(tmp_path: Path) -> None:
    channel = tmp_path / "input/data/train"
    channel.mkdir(parents=True)
    (channel / "train.jsonl").write_text('{"instruction": "q", "answer": "a"}\n')
    config = tmp_path / "input/config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"epochs": "2", "lr": '"0.1"'}))
    done = _run("train", tmp_path)
    assert done.returncode == 0, done.stderr
    model = json.loads((tmp_path / "model/model.json").read_text())
    assert model == {"rows": 1, "hyperparameters": {"epochs": 2, "lr": "0.1"}}


def test_training_without_rows_fails_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "input/data/train").mkdir(parents=True)
    done = _run("train", tmp_path)
    assert done.returncode == 1
    assert "no training rows" in done.stderr


def test_etl_without_sources_exits_2(tmp_path: Path) -> None:
    done = _run("etl", tmp_path, "--sources", " , ", "--author", "Ada")
    assert done.returncode == 2
    assert "names no source" in done.stderr
