"""Model half of llm-twin-ct: local training steps/s and evaluation items/s on this machine's
CPU, and what one run of the pipeline costs in AWS.

train_steps_per_s: LoRA steps of the real SmolLM2-135M weights at the job's CPU defaults
(batch 2, 256 tokens), on rows as long as the dataset job's answers; model loading excluded.
eval_items_per_s: the evaluation job's scoring (answer loss plus a generated answer and its
metrics) of the model just trained, at its CPU defaults.

The cost estimate prices each job of one llm-twin-ct execution on the environment's instance
types (definitions/environments/<env>.yaml): the training job's step count from the train split
(the newest local dataset in .sm-local, else ASSUMED_TRAIN_ROWS), each GPU step costed from its
FLOPs, evaluation from its decode time, and every job billed for its start-up too. Spot applies
to the training job only (processing jobs cannot use spot).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.report import bench_line

ROOT = Path(__file__).resolve().parents[1]
TRAIN_STEPS = 8
EVAL_ITEMS = 16

# SageMaker on-demand list prices, USD per instance-hour, us-east-1 (eu-west-1 is ~10% more),
# as of 2025-06; approximate: check https://aws.amazon.com/sagemaker/pricing/ before budgeting.
PRICES_AS_OF = "2025-06"
PRICE_PER_HOUR = {
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.4xlarge": 2.03,
    "ml.g5.12xlarge": 7.09,
}
SPOT_DISCOUNT = 0.70  # managed spot training typically saves 60-90%; 70% assumed
STARTUP_SECONDS = 180  # billed provisioning and image pull per job
ASSUMED_TRAIN_ROWS = 500
# A Llama-3.1-8B LoRA step on one A10G (g5): 6 x params x tokens FLOPs (forward, backward,
# and the recomputation that gradient checkpointing adds) at 35% of the 125 TFLOPS bf16 peak.
MODEL_PARAMS = 8.0e9
GPU_BATCH, GPU_TOKENS = 4, 2048
A10G_FLOPS, MFU = 125e12, 0.35
# Decoding is memory bound: 16 GB of bf16 weights read per token at ~600 GB/s.
DECODE_SECONDS_PER_TOKEN = 16e9 / 600e9
EVAL_ITEMS_GPU, EVAL_BATCH, EVAL_NEW_TOKENS = 64, 8, 256
# Processing jobs other than evaluation, in seconds of work, when no local run is at hand.
PROCESSING_SECONDS = {"etl": 60, "features": 300, "dataset": 60, "deploy": 600}


def _rows(count: int) -> list[Any]:
    from components.common.instruction_data import Example

    sentence = (
        "I keep the pipeline small, measure every step, and ship only what the numbers "
        "support, because a model that nobody can reproduce is a model nobody can trust. "
    )
    return [
        Example(f"Write a paragraph about lesson {i} from running ML in production.", sentence * 6)
        for i in range(count)
    ]


def _local_speeds(workdir: Path) -> tuple[float, float]:
    os.environ.setdefault("SM_PIPELINES_LOCAL_STATE", str(workdir / "state"))
    from components.common import hf_env

    hf_env.configure(offline=True)
    from components.common import base_model, twin_model
    from components.evaluate.scoring import ScoreSettings, score
    from components.train import sft
    from components.train.config import TrainConfig

    base = base_model.local_gguf_model()
    config = TrainConfig(max_steps=TRAIN_STEPS, save_steps=10_000)
    with contextlib.redirect_stdout(io.StringIO()):  # the per-step metric lines
        report = sft.train(
            config, _rows(32), base, workdir / "model", workdir / "checkpoints", merge=False
        )
    model, tokenizer = twin_model.load(workdir / "model")
    started = time.perf_counter()
    scored = score(model, tokenizer, _rows(EVAL_ITEMS), ScoreSettings())
    items_per_s = scored["metrics"]["items"] / (time.perf_counter() - started)
    return float(report["steps_per_second"]), items_per_s


def _train_rows() -> tuple[int, str]:
    """Rows of the newest train split a local run left (SM_PIPELINES_STATE or .sm-local), else
    the assumption."""
    state = Path(os.environ.get("SM_PIPELINES_STATE") or ROOT / ".sm-local")
    found = sorted(
        (state / "s3").glob("*/**/dataset/*/train/*.jsonl"), key=lambda p: p.stat().st_mtime
    )
    if not found:
        return ASSUMED_TRAIN_ROWS, "assumed"
    with found[-1].open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip()), f"measured in {state.name}"


def _price(instance: str) -> float:
    if instance not in PRICE_PER_HOUR:
        raise KeyError(f"no price for {instance}: add it to PRICE_PER_HOUR in {__file__}")
    return PRICE_PER_HOUR[instance]


def estimate(environment: str, train_rows: int, epochs: float = 1.0) -> list[dict[str, Any]]:
    """One row per job of an llm-twin-ct execution: instance, billed seconds, cost."""
    spec = yaml.safe_load((ROOT / f"definitions/environments/{environment}.yaml").read_text())
    types = spec["instance_types"]
    spot = bool(spec.get("use_spot_training"))
    steps = math.ceil(train_rows / GPU_BATCH) * epochs
    step_seconds = 6 * MODEL_PARAMS * GPU_BATCH * GPU_TOKENS / (A10G_FLOPS * MFU)
    eval_seconds = (
        2 * math.ceil(EVAL_ITEMS_GPU / EVAL_BATCH) * EVAL_NEW_TOKENS * (DECODE_SECONDS_PER_TOKEN)
    )
    jobs = [
        ("etl", types["processing"], PROCESSING_SECONDS["etl"], False),
        ("features", types["processing"], PROCESSING_SECONDS["features"], False),
        ("dataset", types["processing"], PROCESSING_SECONDS["dataset"], False),
        ("train", types["training"], steps * step_seconds, spot),
        ("evaluate", types.get("evaluation", types["processing"]), eval_seconds, False),
        ("deploy", types["processing"], PROCESSING_SECONDS["deploy"], False),
    ]
    rows = []
    for job, instance, seconds, spot_ok in jobs:
        billed = seconds + STARTUP_SECONDS
        on_demand = billed / 3600 * _price(instance)
        rows.append(
            {
                "job": job,
                "instance": instance,
                "minutes": billed / 60,
                "on_demand": on_demand,
                "spot": on_demand * (1 - SPOT_DISCOUNT) if spot_ok else on_demand,
                "steps": int(steps) if job == "train" else None,
            }
        )
    return rows


def _table(environment: str, rows: list[dict[str, Any]], source: str) -> str:
    lines = [
        f"llm-twin-ct on {environment} (prices {PRICES_AS_OF}, train rows {source}):",
        f"  {'job':<9} {'instance':<15} {'minutes':>8} {'on-demand $':>12} {'spot $':>8}",
    ]
    for row in rows:
        note = f"  ({row['steps']} steps)" if row["steps"] is not None else ""
        lines.append(
            f"  {row['job']:<9} {row['instance']:<15} {row['minutes']:>8.1f} "
            f"{row['on_demand']:>12.3f} {row['spot']:>8.3f}{note}"
        )
    lines.append(
        f"  {'total':<9} {'':<15} {sum(r['minutes'] for r in rows):>8.1f} "
        f"{sum(r['on_demand'] for r in rows):>12.3f} {sum(r['spot'] for r in rows):>8.3f}"
    )
    serving = _serving_instance(environment)
    lines.append(
        f"  then the endpoint: {serving} at ${_price(serving) * 24:.2f} per instance-day "
        "(not part of a run)"
    )
    return "\n".join(lines)


def _serving_instance(environment: str) -> str:
    spec = yaml.safe_load((ROOT / f"definitions/environments/{environment}.yaml").read_text())
    return spec["instance_types"]["serving"]


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        steps_per_s, items_per_s = _local_speeds(Path(directory))
    train_rows, source = _train_rows()
    lines = [
        bench_line("train_steps_per_s", steps_per_s, "steps/s", ">=", 0.2),
        bench_line("eval_items_per_s", items_per_s, "items/s", ">=", 0.2),
    ]
    for environment in ("staging", "production"):
        rows = estimate(environment, train_rows)
        print(_table(environment, rows, source), flush=True)
        lines += [
            bench_line(
                f"ct_run_cost_{environment}_on_demand",
                sum(r["on_demand"] for r in rows),
                "USD",
                "<=",
                10,
            ),
            bench_line(
                f"ct_run_cost_{environment}_spot", sum(r["spot"] for r in rows), "USD", "<=", 5
            ),
        ]
    return lines
