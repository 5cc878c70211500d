"""Training hyperparameters: the pipeline passes epochs, max_steps, learning_rate, lora_rank and
the preference stage's preference_min_pairs (and preference_digest, which only keys the step's
cache to the pairs); the rest have defaults that suit both a CPU smoke run and a GPU run."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from components.common.job import JobError


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 1.0
    max_steps: int = -1  # -1: epochs decide
    learning_rate: float = 2e-4
    lora_rank: int = 8
    lora_alpha: int = 0  # 0: twice the rank, the usual choice
    lora_dropout: float = 0.05
    batch_size: int = 0  # 0: by device (see for_device)
    gradient_accumulation_steps: int = 0  # 0: by device
    max_seq_length: int = 0  # 0: by device
    warmup_ratio: float = 0.05
    save_steps: int = 50  # checkpoint interval; spot interruptions resume from the last one
    seed: int = 42
    merge: str = "auto"  # "true": merged model, "false": adapter + base reference, "auto"
    # The preference stage (DPO after SFT, components.train.dpo): it runs when the preferences
    # channel holds at least preference_min_pairs pairs.
    preference_min_pairs: int = 8
    preference_digest: str = ""  # the pairs' digest: keys the step's cache, read by nothing
    dpo_beta: float = 0.1
    dpo_learning_rate: float = 5e-5
    dpo_epochs: float = 1.0
    dpo_max_steps: int = -1  # -1: dpo_epochs decide

    @property
    def alpha(self) -> int:
        return self.lora_alpha or 2 * self.lora_rank

    def for_device(self, gpu: bool) -> TrainConfig:
        """Batch and sequence length left at 0 chosen for the device: on two CPU cores a step
        over 4 x 512 tokens of SmolLM2 takes ~16 s, over 2 x 256 tokens ~3 s. On one 24 GB GPU
        an 8B model in bfloat16 leaves room for one 2048-token example at a time, so the batch
        of 4 is accumulated."""
        return replace(
            self,
            batch_size=self.batch_size or (1 if gpu else 2),
            gradient_accumulation_steps=self.gradient_accumulation_steps or (4 if gpu else 1),
            max_seq_length=self.max_seq_length or (2048 if gpu else 256),
        )

    @classmethod
    def from_hyperparameters(cls, raw: dict[str, Any]) -> TrainConfig:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key.startswith("sagemaker_"):
                continue  # the training toolkit's own settings
            if key not in known:
                raise JobError(f"unknown hyperparameter {key!r} (known: {', '.join(known)})")
            values[key] = _convert(key, value, type(getattr(cls, key)))
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        problems = []
        if self.epochs <= 0:
            problems.append(f"epochs must be > 0, got {self.epochs:g}")
        if self.max_steps == 0 or self.max_steps < -1:
            problems.append(f"max_steps must be -1 or > 0, got {self.max_steps}")
        if not 0 < self.learning_rate <= 10:
            problems.append(f"learning_rate must be in (0, 10], got {self.learning_rate:g}")
        if not 1 <= self.lora_rank <= 1024:
            problems.append(f"lora_rank must be in [1, 1024], got {self.lora_rank}")
        if self.batch_size < 0 or self.gradient_accumulation_steps < 0:
            problems.append("batch_size, gradient_accumulation_steps must be >= 0 (0: by device)")
        if self.max_seq_length != 0 and self.max_seq_length < 16:
            problems.append(
                f"max_seq_length must be >= 16 (0: by device), got {self.max_seq_length}"
            )
        if not 0 <= self.lora_dropout < 1 or not 0 <= self.warmup_ratio < 1:
            problems.append("lora_dropout and warmup_ratio must be in [0, 1)")
        if self.save_steps < 1:
            problems.append(f"save_steps must be >= 1, got {self.save_steps}")
        if self.preference_min_pairs < 1:
            problems.append(f"preference_min_pairs must be >= 1, got {self.preference_min_pairs}")
        if not 0 < self.dpo_beta <= 10 or not 0 < self.dpo_learning_rate <= 10:
            problems.append("dpo_beta and dpo_learning_rate must be in (0, 10]")
        if self.dpo_epochs <= 0 or self.dpo_max_steps == 0 or self.dpo_max_steps < -1:
            problems.append("dpo_epochs must be > 0 and dpo_max_steps -1 or > 0")
        if self.merge not in ("auto", "true", "false"):
            problems.append(f"merge must be auto, true or false, got {self.merge!r}")
        if problems:
            raise JobError("bad hyperparameters: " + "; ".join(problems))


def _convert(key: str, value: Any, kind: type) -> Any:
    try:
        if kind is int:
            number = float(value)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind is float:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        return str(value).lower() if isinstance(value, bool) else str(value)
    except (TypeError, ValueError, OverflowError):
        raise JobError(f"hyperparameter {key}={value!r} is not a valid {kind.__name__}") from None
