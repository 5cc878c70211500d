"""The evaluation in Opik's terms: the test split as an Opik dataset, each scored model as an Opik
experiment, so candidate and champion can be compared item by item in Opik's UI.

Dataset `llm-twin-test-<first 16 of the features digest>` (the digest the features step
published, which also keys the test split; run by hand without --features-digest, a digest of
the test split's own files): one item per scored test example, `{"id", "input": instruction,
"expected_output": reference answer}`. The id is derived from the item's content, and the SDK's
insert drops an item whose content hash the dataset already holds, so a re-run adds nothing.

Experiment per scored model (`<group>-candidate-<time>`, `<group>-champion-v<N>-<time>`; the
champion only when it was re-scored on this split, not when its registered metrics stood in):
one trace per item (`evaluation_task`: input, the model's answer, its scores as feedback scores
under the names opik_metrics.py lists), linked to the dataset item as an experiment item, and
the split's answer_quality, perplexity and eval_loss as experiment scores. Ids are made here
(UUIDv7), so the local records and Opik hold the same ones.

Every evaluation leaves the same records beside evaluation.json, under `opik/`:
`dataset.jsonl` (the items) and `experiments.jsonl` (`experiment` records, then an
`experiment_item` per item with its trace id, dataset item id, output and feedback scores).
With Opik configured they are published too; Opik unreachable or refusing is one warning line
and the local records stand, unless LLM_TWIN_OPIK_REQUIRED=true (then one error line and the job
fails). evaluation.json's `opik` says where they went and names the dataset and the experiments.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.common import opik_config, traces
from components.common.ids import content_uuid, uuid7
from components.common.job import JobError
from components.evaluate.opik_metrics import EXPERIMENT_METRICS, feedback_scores, opik_metrics

REQUIRED_VARIABLE = "LLM_TWIN_OPIK_REQUIRED"
RECORDS_FOLDER = "opik"
TASK_NAME = "evaluation_task"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Dataset:
    name: str
    items: list[dict[str, Any]]

    def item_id(self, instruction: str, reference: str) -> str:
        return content_uuid(self.name, instruction, reference)


@dataclass
class Experiment:
    role: str  # "candidate" or "champion"
    name: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    id: str = field(default_factory=uuid7)
    items: list[dict[str, Any]] = field(default_factory=list)


def dataset_name(features_digest: str) -> str:
    return f"llm-twin-test-{features_digest[:16]}"


def folder_digest(folder: Path) -> str:
    """A digest of a folder's files (names and bytes), for a test split given without the
    features digest."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def build_dataset(name: str, scored_items: list[dict[str, Any]]) -> Dataset:
    dataset = Dataset(name, [])
    seen: set[str] = set()
    for item in scored_items:
        item_id = dataset.item_id(item["instruction"], item["reference"])
        if item_id not in seen:
            seen.add(item_id)
            dataset.items.append(
                {
                    "id": item_id,
                    "input": item["instruction"],
                    "expected_output": item["reference"],
                }
            )
    return dataset


def build_experiment(
    dataset: Dataset,
    role: str,
    name: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
    scored_items: list[dict[str, Any]],
) -> Experiment:
    experiment = Experiment(role, name, config, metrics)
    for item in scored_items:
        experiment.items.append(
            {
                "trace_id": uuid7(),
                "dataset_item_id": dataset.item_id(item["instruction"], item["reference"]),
                "input": item["instruction"],
                "reference": item["reference"],
                "output": item["generated"],
                "scores": dict(item["scores"]),
            }
        )
    return experiment


def experiment_scores(experiment: Experiment) -> dict[str, float]:
    return {
        name: float(experiment.metrics[name])
        for name in EXPERIMENT_METRICS
        if isinstance(experiment.metrics.get(name), int | float)
    }


def write_records(folder: Path, dataset: Dataset, experiments: list[Experiment]) -> Path:
    """The dataset and experiment records as JSON lines under `folder/opik/`."""
    target = folder / RECORDS_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for name in ("dataset.jsonl", "experiments.jsonl"):
        (target / name).unlink(missing_ok=True)
    traces.append_records(
        target / "dataset.jsonl",
        [{"kind": "dataset_item", "dataset": dataset.name, **item} for item in dataset.items],
    )
    records: list[dict[str, Any]] = []
    for experiment in experiments:
        records.append(
            {
                "kind": "experiment",
                "id": experiment.id,
                "name": experiment.name,
                "dataset": dataset.name,
                "role": experiment.role,
                "config": experiment.config,
                "scores": experiment_scores(experiment),
            }
        )
        for item in experiment.items:
            records.append(
                {
                    "kind": "experiment_item",
                    "experiment_id": experiment.id,
                    "dataset_item_id": item["dataset_item_id"],
                    "trace_id": item["trace_id"],
                    "trace_name": TASK_NAME,
                    "input": item["input"],
                    "output": item["output"],
                    "feedback_scores": feedback_scores(item["scores"], []),
                }
            )
    traces.append_records(target / "experiments.jsonl", records)
    return target


def publish_to_opik(
    settings: opik_config.OpikSettings, dataset: Dataset, experiments: list[Experiment]
) -> None:
    """The dataset, and each experiment with its traces and scores, through the Opik SDK."""
    from opik.api_objects.experiment.experiment_item import ExperimentItemReferences
    from opik.evaluation.metrics.score_result import ScoreResult

    client = opik_config.opik_client(settings)
    metrics = opik_metrics()
    try:
        opik_dataset = client.get_or_create_dataset(
            name=dataset.name, description="LLM Twin test split (instruction, reference answer)"
        )
        opik_dataset.insert(dataset.items)
        for experiment in experiments:
            created = client.create_experiment(
                dataset_name=dataset.name,
                name=experiment.name,
                experiment_config=experiment.config,
                experiment_id=experiment.id,
            )
            references = []
            for item in experiment.items:
                computed = [
                    metric.score(output=item["output"], reference=item["reference"])
                    for metric in metrics
                ]
                client.trace(
                    id=item["trace_id"],
                    name=TASK_NAME,
                    input={"input": item["input"]},
                    output={"output": item["output"]},
                    metadata={"experiment": experiment.name, "role": experiment.role},
                    feedback_scores=feedback_scores(item["scores"], computed),
                    project_name=settings.project,
                )
                references.append(
                    ExperimentItemReferences(
                        dataset_item_id=item["dataset_item_id"], trace_id=item["trace_id"]
                    )
                )
            created.insert(references)
            created.log_experiment_scores(
                [
                    ScoreResult(name=name, value=value)
                    for name, value in experiment_scores(experiment).items()
                ]
            )
        if client.flush(timeout=60) is False:
            raise TimeoutError("Opik did not take every trace within 60 s")
    finally:
        client.end(timeout=10)


def destination(env: Mapping[str, str] | None = None) -> str:
    """One line: where the dataset and experiments go (never the API key)."""
    settings = traces.opik_settings(env)
    if settings.configured:
        return f"{settings.describe()} and local records under {RECORDS_FOLDER}/"
    return f"local records under {RECORDS_FOLDER}/ beside evaluation.json ({settings.url_source})"


def opik_required(env: Mapping[str, str]) -> bool:
    return env.get(REQUIRED_VARIABLE, "").strip().lower() in _TRUE


def record(
    folder: Path,
    dataset: Dataset,
    experiments: list[Experiment],
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write the local records, publish to Opik when configured; evaluation.json's `opik`."""
    env = os.environ if env is None else env
    target = write_records(folder, dataset, experiments)
    settings = traces.opik_settings(env)
    summary: dict[str, Any] = {
        "dataset": {"name": dataset.name, "items": len(dataset.items)},
        "experiments": {e.role: e.id for e in experiments},
        "experiment_names": {e.role: e.name for e in experiments},
        "records": f"{RECORDS_FOLDER}/",
    }
    if not settings.configured:
        if opik_required(env):
            raise JobError(
                f"{REQUIRED_VARIABLE} is set but Opik is not configured ({settings.url_source})"
            )
        summary["destination"] = f"local records {target} ({settings.url_source})"
        return summary
    try:
        publish_to_opik(settings, dataset, experiments)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        problem = f"cannot publish to {settings.describe()}: {type(exc).__name__}: {first}"
        if opik_required(env):
            raise JobError(problem) from None
        print(f"evaluate: warning: {problem}; the records stay in {target}", file=sys.stderr)
        summary["destination"] = f"local records {target} (Opik failed: {type(exc).__name__})"
        return summary
    summary["destination"] = settings.describe()
    return summary


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
