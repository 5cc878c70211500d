"""etl -> features -> dataset as SageMaker runs them (`python -m components.<job>`, moved
/opt/ml), against the session's MongoDB server and a local Qdrant store: the digests chain, a
re-run inserts nothing and reproduces both digests, and the datasets are what training reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components.conftest import Stores, make_corpus

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def job(name: str, stores: Stores, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"components.{name}", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=stores.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def outputs(stores: Stores, name: str) -> Path:
    return stores.ml_root / "processing" / "output" / name


def test_components_chain_through_their_contract(stores: Stores) -> None:
    make_corpus(stores.root / "corpus", articles=2, posts=3)
    etl = job("etl", stores, "--sources", "corpus", "--author", "Ada Twin")
    assert etl.returncode == 0, etl.stderr
    raw = stores.snapshot()
    assert (raw["inserted"], raw["documents"]) == (5, 5)

    features = job("features", stores, "--raw-digest", raw["digest"])
    assert features.returncode == 0, features.stderr
    assert "5 changed, 0 removed, 0 unchanged documents" in features.stdout
    feature_snapshot = stores.snapshot()

    dataset = job("dataset", stores, "--features-digest", feature_snapshot["digest"])
    assert dataset.returncode == 0, dataset.stderr
    train = [json.loads(line) for line in (outputs(stores, "train") / "train.jsonl").open()]
    test = [json.loads(line) for line in (outputs(stores, "test") / "test.jsonl").open()]
    assert train and test and len(test) == round((len(train) + len(test)) * 0.2)
    assert all(row["instruction"] and row["answer"] for row in train + test)
    assert {row["author"] for row in train} == {"Ada Twin"}

    # Unchanged sources: nothing inserted, the same digests (so the pipeline's cache would hit).
    again = job("etl", stores, "--sources", "corpus", "--author", "Ada Twin")
    assert again.returncode == 0, again.stderr
    assert "etl: 0 inserted, 0 updated, 5 unchanged" in again.stdout
    assert stores.snapshot()["digest"] == raw["digest"]
    rerun = job("features", stores, "--raw-digest", raw["digest"])
    assert "0 changed" in rerun.stdout and "0 chunks embedded" in rerun.stdout
    assert stores.snapshot()["digest"] == feature_snapshot["digest"]


def test_a_stale_digest_is_refused_with_one_line(stores: Stores) -> None:
    make_corpus(stores.root / "corpus", articles=0, posts=2)
    assert job("etl", stores, "--sources", "corpus", "--author", "Ada").returncode == 0
    stale = job("features", stores, "--raw-digest", "0" * 64)
    assert stale.returncode == 1
    assert stale.stderr.strip().startswith("features: MongoDB holds raw documents at digest ")
    assert len(stale.stderr.strip().splitlines()) == 1
    bad = job("dataset", stores, "--features-digest", "f" * 64)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("dataset: the feature store is at digest ")
