"""Score one model on the test split: answer loss/perplexity and answer-quality metrics.

`score` returns the split's metrics, a few samples for evaluation.json, and every scored item
(instruction, reference, generated answer, its own scores) for the Opik experiment
(experiments.py)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from components.common.instruction_data import Example
from components.common.prompting import IGNORE_INDEX, encode_example
from components.common.twin_model import generate
from components.evaluate import text_metrics
from components.evaluate.judge import Judge

# answer_quality without a judge; with one it is the mean of this and the judge's score.
HEURISTIC_WEIGHTS = {"rouge_l": 0.4, "token_f1": 0.3, "style_similarity": 0.3}
# A diverged model has an infinite or NaN loss; JSON (and JsonGet) need a finite number.
MAX_LOSS = math.log(1e6)


@dataclass(frozen=True)
class ScoreSettings:
    max_items: int = 16
    max_new_tokens: int = 64
    batch_size: int = 8
    max_length: int = 256
    loss_batch_size: int = 8  # full-vocabulary logits of 8 x 2048 tokens would not fit a GPU

    @classmethod
    def for_device(
        cls, gpu: bool, max_items: int | None = None, max_new_tokens: int | None = None
    ) -> ScoreSettings:
        """Two CPU cores score 16 items of a 135M model in well under a minute; a GPU scores
        more items at full length."""
        base = (
            cls(max_items=64, max_new_tokens=256, max_length=2048, loss_batch_size=1)
            if gpu
            else cls()
        )
        return replace(
            base,
            max_items=max_items or base.max_items,
            max_new_tokens=max_new_tokens or base.max_new_tokens,
        )


def answer_loss(
    model: Any, tokenizer: Any, examples: list[Example], settings: ScoreSettings
) -> float:
    """Mean negative log-likelihood per answer token, the prompt masked as in training."""
    import torch

    total, count = 0.0, 0
    pad = tokenizer.pad_token_id
    for start in range(0, len(examples), settings.loss_batch_size):
        encoded = [
            encode_example(tokenizer, e.instruction, e.answer, settings.max_length)
            for e in examples[start : start + settings.loss_batch_size]
        ]
        width = max(len(e.input_ids) for e in encoded)
        ids = torch.tensor([e.input_ids + [pad] * (width - len(e.input_ids)) for e in encoded])
        labels = torch.tensor(
            [e.labels + [IGNORE_INDEX] * (width - len(e.labels)) for e in encoded]
        )
        # From lengths, not from ids != pad: the pad id is often the end-of-turn id, which
        # also appears inside every prompt.
        mask = torch.tensor(
            [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in encoded]
        )
        with torch.no_grad():
            logits = model(
                input_ids=ids.to(model.device), attention_mask=mask.to(model.device)
            ).logits
        shifted = labels[:, 1:].to(model.device)
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.shape[-1]),
            shifted.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        total += float(loss)
        count += int((shifted != IGNORE_INDEX).sum())
    mean = total / count if count else float("inf")
    return mean if math.isfinite(mean) else float("inf")


def _new_tokens_for(tokenizer: Any, examples: list[Example], cap: int) -> int:
    # Room for the longest reference plus a margin: generating far past it only costs time.
    longest = max(len(tokenizer(e.answer, add_special_tokens=False)["input_ids"]) for e in examples)
    return max(8, min(cap, int(longest * 1.25) + 8))


def score(
    model: Any,
    tokenizer: Any,
    examples: list[Example],
    settings: ScoreSettings,
    judge: Judge | None = None,
) -> dict[str, Any]:
    """Metrics of one model on `examples` (the first max_items of them), plus a few samples."""
    started = time.perf_counter()
    items = examples[: settings.max_items]
    loss = answer_loss(model, tokenizer, items, settings)
    answers = generate(
        model,
        tokenizer,
        [e.instruction for e in items],
        max_new_tokens=_new_tokens_for(tokenizer, items, settings.max_new_tokens),
        batch_size=settings.batch_size,
    )
    per_metric = {
        name: [
            getattr(text_metrics, name)(got, e.answer)
            for got, e in zip(answers, items, strict=True)
        ]
        for name in HEURISTIC_WEIGHTS
    }
    means = {name: sum(values) / len(values) for name, values in per_metric.items()}
    heuristic = sum(HEURISTIC_WEIGHTS[name] * means[name] for name in HEURISTIC_WEIGHTS)
    metrics: dict[str, Any] = {name: round(value, 4) for name, value in means.items()}
    quality = heuristic
    rated: list[float | None] = [None] * len(items)
    if judge is not None:
        rated = judge.rate_all(
            [(e.instruction, e.answer, got) for got, e in zip(answers, items, strict=True)]
        )
        judged = judge.mean(rated)
        if judged is not None:
            metrics["judge_score"] = round(judged, 4)
            quality = (heuristic + judged) / 2
    bounded = min(loss, MAX_LOSS)
    metrics.update(
        {
            "answer_quality": round(quality, 4),
            "eval_loss": round(bounded, 4),
            "perplexity": round(math.exp(bounded), 4),
            "items": len(items),
        }
    )
    seconds = time.perf_counter() - started
    return {
        "metrics": metrics,
        "seconds": round(seconds, 3),
        "samples": [
            {"instruction": e.instruction, "reference": e.answer, "generated": got}
            for got, e in list(zip(answers, items, strict=True))[:3]
        ],
        "items": [
            {
                "instruction": e.instruction,
                "reference": e.answer,
                "generated": got,
                "scores": item_scores({n: v[i] for n, v in per_metric.items()}, rated[i]),
            }
            for i, (got, e) in enumerate(zip(answers, items, strict=True))
        ],
    }


def item_scores(heuristic: dict[str, float], judged: float | None) -> dict[str, float]:
    """One answer's scores: the offline metrics, the judge's when it rated this answer, and
    the item's answer_quality computed as the split's is."""
    scores = {name: round(value, 4) for name, value in heuristic.items()}
    quality = sum(HEURISTIC_WEIGHTS[name] * heuristic[name] for name in HEURISTIC_WEIGHTS)
    if judged is not None:
        scores["judge_score"] = round(judged, 4)
        quality = (quality + judged) / 2
    scores["answer_quality"] = round(quality, 4)
    return scores
