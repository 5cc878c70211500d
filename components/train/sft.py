"""LoRA supervised fine-tuning with transformers' Trainer and peft.

trl's SFTTrainer would add a dependency for what is here three small pieces: prompt-masked
labels (components.common.prompting), a padding collator and a metrics printer.

Precision: on a GPU with bfloat16 the model is loaded and trained in bfloat16. On a CPU the
weights stay float32 and, where the CPU computes bfloat16 natively (the avx512_bf16 or amx_bf16
flags: Cooper Lake, Sapphire Rapids and later Xeons, AMD Zen 4 and later), the Trainer runs the
forward and backward passes under bfloat16 autocast (`bf16=True` with `use_cpu`): a LoRA step
of SmolLM2-135M over 2 x 256 tokens took 1.5-1.75 s instead of 2.4-2.5 s on a 2-core Zen 4
machine. Elsewhere (ml.m5's Skylake and Cascade Lake Xeons have no native bfloat16, and
emulated bfloat16 is slower than float32) the CPU trains in float32. TRAIN_CPU_BF16=0 forces
float32, =1 autocast; the report's `precision` says which ran.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from components.common import base_model
from components.common.instruction_data import Example
from components.common.job import JobError
from components.common.prompting import IGNORE_INDEX, encode_example
from components.common.twin_model import REPORT_FILE
from components.train.config import TrainConfig

FINGERPRINT_FILE = "fingerprint.json"
# Per-step losses on a few small, ever-different batches are mostly noise; the loss on one fixed
# sample of rows, before and after, shows whether the run learned anything.
PROBE_ROWS = 16


def _collate(pad_id: int) -> Any:
    import torch

    def collate(rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, mask = [], [], []
        for row in rows:
            gap = width - len(row["input_ids"])
            ids.append(row["input_ids"] + [pad_id] * gap)
            labels.append(row["labels"] + [IGNORE_INDEX] * gap)
            mask.append([1] * len(row["input_ids"]) + [0] * gap)
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(mask),
        }

    return collate


def _metric_printer() -> Any:
    from transformers import TrainerCallback

    class MetricLines(TrainerCallback):
        """One line per logging step, in the shape the pipeline's metric definitions parse:
        `'loss': ([0-9.]+)` and `'learning_rate': ([0-9.e-]+)`."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            if logs and "loss" in logs:
                print(
                    f"{{'loss': {float(logs['loss']):.4f}, "
                    f"'learning_rate': {float(logs.get('learning_rate', 0.0)):.3e}, "
                    f"'epoch': {float(logs.get('epoch', 0.0)):.2f}, 'step': {state.global_step}}}",
                    flush=True,
                )

    return MetricLines()


def _resume_point(checkpoints: Path, fingerprint: dict[str, Any]) -> str | None:
    """The last checkpoint of this same job (a spot restart), else None after clearing the
    folder: the pipeline's checkpoint URI outlives one run, and resuming another run's
    checkpoint would silently skip training."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints.mkdir(parents=True, exist_ok=True)
    marker = checkpoints / FINGERPRINT_FILE
    try:
        same = json.loads(marker.read_text(encoding="utf-8")) == fingerprint
    except (OSError, json.JSONDecodeError):
        same = False
    if same:
        last = get_last_checkpoint(str(checkpoints))
        if last:
            return last
    for stale in checkpoints.iterdir():
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    marker.write_text(json.dumps(fingerprint, sort_keys=True), encoding="utf-8")
    return None


def fingerprint(config: TrainConfig, examples: list[Example], base: base_model.BaseModel) -> dict:
    import hashlib

    data = hashlib.sha256()
    for example in examples:
        data.update(json.dumps([example.instruction, example.answer]).encode())
    return {"config": asdict(config), "data": data.hexdigest(), "base": base.to_json()}


CPU_BF16_VARIABLE = "TRAIN_CPU_BF16"
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_cpu_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes bfloat16 natively (read from /proc/cpuinfo's flags)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return any(flag in line.split() for flag in CPU_BF16_FLAGS)
    return False


def cpu_autocast_bf16(env: dict[str, str] | None = None) -> bool:
    """bfloat16 autocast for CPU training: TRAIN_CPU_BF16 (0 or 1) if set, else native support."""
    value = (os.environ if env is None else env).get(CPU_BF16_VARIABLE, "").strip()
    if value in ("0", "1"):
        return value == "1"
    if value:
        raise JobError(f"{CPU_BF16_VARIABLE}={value!r}: expected 0 or 1 (unset: by the CPU)")
    return native_cpu_bf16()


def train(
    config: TrainConfig,
    examples: list[Example],
    base: base_model.BaseModel,
    model_dir: Path,
    checkpoints: Path,
    merge: bool,
    preferences: list[dict[str, str]] | None = None,
    bad_preferences: int = 0,
) -> dict[str, Any]:
    """Fine-tune `base` on `examples`, then (with enough `preferences`) run the DPO stage; save
    model, tokenizer and training_report.json."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import PrinterCallback, Trainer, TrainingArguments, set_seed

    set_seed(config.seed)
    gpu = torch.cuda.is_available()
    config = config.for_device(gpu)
    dtype = torch.bfloat16 if gpu and torch.cuda.is_bf16_supported() else torch.float32
    cpu_bf16 = cpu_autocast_bf16()  # read on every device, so a bad value is never ignored
    mixed_bf16 = dtype == torch.bfloat16 or (not gpu and cpu_bf16)
    precision = "bf16" if dtype == torch.bfloat16 else ("bf16-autocast" if mixed_bf16 else "fp32")
    print(f"train: precision {precision}", flush=True)
    model, tokenizer = base_model.load(base, dtype=dtype)
    rows = [
        asdict(encode_example(tokenizer, e.instruction, e.answer, config.max_seq_length))
        for e in examples
    ]
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    if gpu:
        # An 8B model's activations do not fit a 24 GB GPU otherwise.
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    steps_per_epoch = max(
        1, -(-len(rows) // (config.batch_size * config.gradient_accumulation_steps))
    )
    total_steps = (
        config.max_steps if config.max_steps > 0 else int(steps_per_epoch * config.epochs) or 1
    )
    arguments = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        warmup_steps=int(total_steps * config.warmup_ratio),
        lr_scheduler_type="linear",
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        bf16=mixed_bf16,
        use_cpu=not gpu,
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        log_level="error",
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=rows,
        eval_dataset=rows[:PROBE_ROWS],
        data_collator=_collate(tokenizer.pad_token_id),
        callbacks=[_metric_printer()],
    )
    trainer.remove_callback(PrinterCallback)  # ours prints the same logs in a parseable shape
    resume = _resume_point(checkpoints, fingerprint(config, examples, base))
    if resume:
        print(f"train: resuming from {resume}", flush=True)
    probe_before = float(trainer.evaluate()["eval_loss"])
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    probe_after = float(trainer.evaluate()["eval_loss"])

    from components.train import dpo

    pairs = preferences or []
    if len(pairs) >= config.preference_min_pairs:
        preference = dpo.run(model, tokenizer, pairs, config, gpu, mixed_bf16, bad_preferences)
    else:
        preference = dpo.skipped(len(pairs), config, bad_preferences)
    saved = _save(model, tokenizer, model_dir, merge, dtype)
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    steps_run = trainer.state.global_step
    report = {
        "base_model": base.to_json(),
        "hyperparameters": asdict(config),
        "rows": len(rows),
        "steps": steps_run,
        "epochs": round(float(trainer.state.epoch or 0.0), 4),
        "saved": saved,
        "resumed_from": Path(resume).name if resume else None,
        "device": "cuda" if gpu else "cpu",
        "precision": precision,
        "train_loss": float(outcome.training_loss),
        "probe_rows": min(PROBE_ROWS, len(rows)),
        "probe_loss_before": round(probe_before, 4),
        "probe_loss_after": round(probe_after, 4),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        # Per-step losses of small batches are noisy: means over a few steps at each end.
        "loss_start_mean": _mean(losses[: _window(losses)]),
        "loss_end_mean": _mean(losses[-_window(losses) :]) if losses else None,
        "losses": losses,
        "train_seconds": round(seconds, 3),
        "steps_per_second": round(steps_run / seconds, 4) if seconds > 0 else None,
        "preference": preference,
    }
    (model_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _window(losses: list[float]) -> int:
    return max(1, min(5, len(losses) // 4))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _save(model: Any, tokenizer: Any, model_dir: Path, merge: bool, dtype: Any) -> str:
    model_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(model_dir)
    if merge:
        merged = model.merge_and_unload()
        merged.to(dtype).save_pretrained(model_dir)
        return "merged"
    model.save_pretrained(model_dir)
    return "adapter"
