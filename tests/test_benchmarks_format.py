"""The BENCH line format is what CI and the issues parse."""

import re

from benchmarks.report import bench_line


def test_bench_line_format() -> None:
    line = bench_line("feature_vs_encode", 0.8612, "ratio", ">=", 0.8)
    assert line == "BENCH feature_vs_encode 0.8612 ratio target >= 0.8"
    assert re.fullmatch(r"BENCH \S+ \S+ \S+ target (<=|<|>=|>) \S+", line)
