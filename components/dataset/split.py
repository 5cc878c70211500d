"""Filter the pairs and split them into train and test, deterministically.

Filters: answers shorter than MIN_ANSWER_WORDS carry no voice (a title, a list of links); answers
longer than MAX_ANSWER_WORDS would be truncated in training; instructions shorter than
MIN_INSTRUCTION_CHARS say nothing; a repeated answer (same words, ignoring case and spacing) or a
repeated instruction for a different answer would teach one thing twice or two things at once.

Split: rows are ordered by SHA-256 of (seed, id) and the first round(n * test_fraction) go to
test. The order depends only on the seed and the row's own id, so adding documents moves few rows
between the splits, and the same store and seed always give the same files.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from components.common.job import JobError
from components.dataset.generate import Pair

MIN_ANSWER_WORDS = 20
MAX_ANSWER_WORDS = 400
MIN_INSTRUCTION_CHARS = 12


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def filter_pairs(pairs: list[Pair]) -> tuple[list[Pair], Counter]:
    kept, dropped = [], Counter()
    answers: set[str] = set()
    instructions: set[str] = set()
    for pair in sorted(pairs, key=lambda p: p.id):
        words = len(pair.answer.split())
        if words < MIN_ANSWER_WORDS:
            dropped["answer too short"] += 1
        elif words > MAX_ANSWER_WORDS:
            dropped["answer too long"] += 1
        elif len(pair.instruction) < MIN_INSTRUCTION_CHARS:
            dropped["instruction too short"] += 1
        elif _normal(pair.answer) in answers:
            dropped["duplicate answer"] += 1
        elif _normal(pair.instruction) in instructions:
            dropped["duplicate instruction"] += 1
        else:
            answers.add(_normal(pair.answer))
            instructions.add(_normal(pair.instruction))
            kept.append(pair)
    return kept, dropped


def split_pairs(
    pairs: list[Pair], test_fraction: float, seed: int
) -> tuple[list[Pair], list[Pair]]:
    if not 0 < test_fraction < 1:
        raise JobError(f"--test-fraction {test_fraction}: expected a number between 0 and 1")
    if len(pairs) < 2:
        raise JobError(
            f"only {len(pairs)} instruction pair(s) after filtering: too few to split into "
            "train and test (ingest more documents)"
        )
    ordered = sorted(pairs, key=lambda p: hashlib.sha256(f"{seed}:{p.id}".encode()).hexdigest())
    test_size = min(max(1, round(len(ordered) * test_fraction)), len(ordered) - 1)
    test = sorted(ordered[:test_size], key=lambda p: p.id)
    train = sorted(ordered[test_size:], key=lambda p: p.id)
    return train, test


def write_jsonl(path: Path, pairs: list[Pair]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair.row(), ensure_ascii=False, sort_keys=True) + "\n")
