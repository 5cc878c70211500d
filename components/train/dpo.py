"""The preference stage: Direct Preference Optimisation with trl on the SFT LoRA model.

Runs after SFT when the preference pairs (people's ratings of the twin's answers, built by the
pipeline's preferences step) reach `preference_min_pairs`; below that it is skipped and the
training report says why. The SFT adapter keeps training; trl copies it, frozen, into an adapter
named "ref" (its way of re-training an existing adapter) as the reference policy, so DPO moves
the model away from the SFT model and not from the untuned base. Prompts are laid
out exactly as SFT and serving lay them out (components.common.prompting).

The report gives the pairs used and the DPO loss on them before and after. Before the first step
the policy is its reference, so that loss is ln 2 (0.6931); lower after means the model now
prefers the chosen answers more than the SFT model did.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from components.common.job import JobError
from components.common.prompting import prompt_text
from components.train.config import TrainConfig

REF_ADAPTER = "ref"


def read_pairs(folder: Path | None) -> tuple[list[dict[str, str]], int]:
    """The pairs under the preferences channel (preferences.jsonl) and the count of bad lines.
    No channel or no file: no pairs."""
    if folder is None or not folder.is_dir():
        return [], 0
    pairs, bad = [], 0
    for path in sorted(folder.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if (
                isinstance(row, dict)
                and all(isinstance(row.get(k), str) and row[k].strip() for k in _FIELDS)
                and row["chosen"].strip() != row["rejected"].strip()
            ):
                pairs.append({k: row[k] for k in ("id", *_FIELDS) if k in row})
            else:
                bad += 1
    return pairs, bad


_FIELDS = ("prompt", "chosen", "rejected")


def skipped(pairs: int, config: TrainConfig, bad: int = 0) -> dict[str, Any]:
    return {
        "ran": False,
        "pairs": pairs,
        "bad_rows": bad,
        "min_pairs": config.preference_min_pairs,
        "reason": (
            f"{pairs} preference pair(s), fewer than preference_min_pairs "
            f"{config.preference_min_pairs}: SFT only"
        ),
    }


def steps_for(config: TrainConfig, pairs: int, batch_size: int) -> int:
    if config.dpo_max_steps > 0:
        return config.dpo_max_steps
    return max(1, math.ceil(pairs / batch_size * config.dpo_epochs))


def run(
    model: Any,
    tokenizer: Any,
    pairs: list[dict[str, str]],
    config: TrainConfig,
    gpu: bool,
    bf16: bool,
    bad: int = 0,
) -> dict[str, Any]:
    """DPO on `model` (a peft model whose active adapter is the SFT one), in place."""
    if not pairs:
        raise JobError("the preference stage needs at least one pair")
    try:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer
    except ImportError as exc:
        raise JobError(
            f"the preference stage needs trl and datasets (pip install '.[train]'): {exc}"
        ) from None

    rows = [
        {
            "prompt": prompt_text(tokenizer, p["prompt"]),
            "chosen": p["chosen"],
            "rejected": p["rejected"],
        }
        for p in pairs
    ]
    dataset = Dataset.from_list(rows)
    batch = min(config.batch_size, len(rows))
    steps = steps_for(config, len(rows), batch)
    adapter = model.active_adapter
    with tempfile.TemporaryDirectory(prefix="dpo-") as scratch:
        arguments = DPOConfig(
            output_dir=scratch,
            beta=config.dpo_beta,
            learning_rate=config.dpo_learning_rate,
            max_steps=steps,
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=batch,
            gradient_accumulation_steps=1,
            max_length=config.max_seq_length,
            lr_scheduler_type="constant",
            warmup_steps=0,
            logging_steps=1,
            save_strategy="no",
            seed=config.seed,
            bf16=bf16,
            use_cpu=not gpu,
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            log_level="error",
        )
        trainer = DPOTrainer(
            model=model,
            args=arguments,
            train_dataset=dataset,
            eval_dataset=dataset,
            processing_class=tokenizer,
        )
        before = trainer.evaluate()
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        after = trainer.evaluate()
        losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    # trl added the frozen copy of the SFT adapter (REF_ADAPTER) as the reference; only the
    # trained adapter is saved.
    if REF_ADAPTER in model.peft_config:
        model.delete_adapter(REF_ADAPTER)
    model.set_adapter(adapter)
    return {
        "ran": True,
        "pairs": len(rows),
        "bad_rows": bad,
        "min_pairs": config.preference_min_pairs,
        "method": "dpo (trl)",
        "beta": config.dpo_beta,
        "learning_rate": config.dpo_learning_rate,
        "steps": trainer.state.global_step,
        "loss_before": round(float(before["eval_loss"]), 4),
        "loss_after": round(float(after["eval_loss"]), 4),
        "reward_accuracy_before": _metric(before, "rewards/accuracies"),
        "reward_accuracy_after": _metric(after, "rewards/accuracies"),
        "reward_margin_after": _metric(after, "rewards/margins"),
        "losses": losses,
        "seconds": round(seconds, 3),
    }


def _metric(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(f"eval_{name}")
    return round(float(value), 4) if isinstance(value, int | float) else None
