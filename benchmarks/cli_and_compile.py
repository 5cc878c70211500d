"""How fast the CLI answers and how long compiling every pipeline for every environment takes
(`build --check`: all pipelines, all environments, in one command)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import bench_line

ROOT = Path(__file__).resolve().parents[1]


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def run() -> list[str]:
    cli = [sys.executable, "-m", "sm_pipelines"]
    help_times = [_timed([*cli, "--help"]) for _ in range(7)]
    compile_times = [_timed([*cli, "build", "--check"]) for _ in range(3)]
    return [
        bench_line("cli_help_seconds", statistics.median(help_times), "s", "<=", 0.3),
        bench_line("compile_seconds", statistics.median(compile_times), "s", "<=", 3),
    ]
