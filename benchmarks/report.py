"""One line per figure, exactly as the issues read them."""

from __future__ import annotations


def bench_line(name: str, value: float, unit: str, op: str, target: float) -> str:
    return f"BENCH {name} {value:.4g} {unit} target {op} {target:g}"
