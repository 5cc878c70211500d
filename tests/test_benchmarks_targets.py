"""`make bench` holds each figure to the target issue 20 sets (never looser), and the tracing
comparison measures the tracer, not the stub servers' TCP behaviour."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# name -> (op, target) as issue 20 states them.
TARGETS = {
    "local_ct_seconds": ("<=", 180),
    "compile_seconds": ("<=", 3),
    "cli_help_seconds": ("<=", 0.3),
    "feature_vs_encode": (">=", 0.9),
    "tracing_overhead": ("<=", 1.05),
    "tracing_overhead_opik": ("<=", 1.05),
    "embed_onnx_vs_torch": (">=", 1.5),
    "embed_onnx_recall_at_10": (">=", 0.95),
    "feature_incremental_speedup": (">=", 20),
    "feature_scaling": ("<=", 1.2),
}


def _bench_lines() -> dict[str, tuple[str, float]]:
    """Every bench_line(name, value, unit, op, target) call with literal name, op and target."""
    found = {}
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "bench_line"
                and len(node.args) == 5
                and isinstance(node.args[3], ast.Constant)
                and isinstance(node.args[4], ast.Constant)
            ):
                name = node.args[0]
                if isinstance(name, ast.Constant):
                    found[name.value] = (node.args[3].value, node.args[4].value)
                elif isinstance(name, ast.Name) and name.id == "name":
                    # The tracing lines: one call, the names from the loop beside it.
                    for key in ("tracing_overhead", "tracing_overhead_opik"):
                        found[key] = (node.args[3].value, node.args[4].value)
    return found


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_figure_is_held_to_the_issues_target(name: str) -> None:
    assert _bench_lines()[name] == TARGETS[name]


class _Writes(io.RawIOBase):
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes.append(bytes(data))
        return len(data)


def test_the_stub_servers_answer_in_one_write_with_nagle_off() -> None:
    """Headers and body in two writes on a Nagle socket wait for the client's delayed ACK
    (~40 ms on Linux) on some keep-alive connections and not others: that, not tracing, made
    traced requests look twice as fast as untraced ones."""
    from benchmarks.serving import _Model, _Opik

    for handler in (_Model, _Opik):
        assert handler.disable_nagle_algorithm is True
        stub = handler.__new__(handler)
        stub.request_version = "HTTP/1.1"
        stub.requestline = "POST / HTTP/1.1"
        stub.command = "POST"
        stub.wfile = _Writes()
        stub._reply(200, b'[{"generated_text": "ok"}]')
        [written] = stub.wfile.writes
        head, body = written.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 26" in head
        assert body == b'[{"generated_text": "ok"}]'
