"""Local executor: per-step overhead against running the same no-op job by hand, and a cached
re-run of llm-twin-ct as a fraction of its first run, side by side in one process."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import bench_line
from sm_pipelines.local.plan import load_definition
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.sandbox import namespace_prefix
from sm_pipelines.local.state import LocalState

ROOT = Path(__file__).resolve().parents[1]
STEPS = 10
ROUNDS = 5


def _noop_definition() -> str:
    steps = []
    for index in range(STEPS):
        steps.append(
            {
                "Name": f"noop-{index}",
                "Type": "Processing",
                "DependsOn": [f"noop-{index - 1}"] if index else [],
                "Arguments": {
                    "AppSpecification": {
                        "ImageUri": "local/noop:1",
                        "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/noop.py"],
                    },
                    "ProcessingInputs": [
                        {
                            "InputName": "code",
                            "S3Input": {
                                "S3Uri": "s3://bench/code/noop.py",
                                "LocalPath": "/opt/ml/processing/input/code",
                                "S3DataType": "S3Prefix",
                            },
                        }
                    ],
                    "ProcessingOutputConfig": {"Outputs": []},
                },
            }
        )
    return json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": steps})


def _step_overhead_ms(workdir: Path, namespace: tuple[str, ...] | None) -> float:
    """(one executor run of STEPS no-op steps - STEPS bare runs of the same script) / STEPS.
    Rounds alternate the two and each keeps its best, so load from elsewhere hits both alike.
    `namespace`: jobs get their sandbox mounted at /opt/ml (None: path rewriting)."""
    state = LocalState(workdir / ("overhead-ns" if namespace else "overhead"))
    state.put_bytes("s3://bench/code/noop.py", b"pass\n")
    script = state.s3_path("s3://bench/code/noop.py")
    definition = load_definition(_noop_definition(), "bench")
    bare, executor = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(STEPS):
            subprocess.run([sys.executable, str(script)], check=True)
        bare.append(time.perf_counter() - start)
        settings = RunSettings(cwd=workdir, namespace=namespace)
        runner = Runner(state, definition, "bench", settings)
        start = time.perf_counter()
        execution = runner.start({})
        executor.append(time.perf_counter() - start)
        assert execution.status == "Succeeded", execution.failure_reason
    return (min(executor) - min(bare)) / STEPS * 1000


def _ct_runs(workdir: Path) -> tuple[float, float]:
    command = [
        sys.executable,
        "-m",
        "sm_pipelines",
        "run",
        "llm-twin-ct",
        "--local",
        "--quiet",
        "--state",
        str(workdir / "ct-state"),
    ]
    times = []
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        namespace, why_not = namespace_prefix()
        mounted = _step_overhead_ms(workdir, namespace) if namespace else None
        rewritten = _step_overhead_ms(workdir, None)
        first, cached = _ct_runs(workdir)
    lines = []
    if mounted is None:
        print(f"executor_step_overhead_ms not measured with namespaces: {why_not}")
    else:
        lines.append(bench_line("executor_step_overhead_ms", mounted, "ms", "<=", 100))
    return [
        *lines,
        bench_line("executor_step_overhead_rewrite_ms", rewritten, "ms", "<=", 100),
        bench_line("local_ct_seconds", first, "s", "<=", 180),
        bench_line("cached_rerun_fraction", cached / first, "ratio", "<", 0.1),
    ]
