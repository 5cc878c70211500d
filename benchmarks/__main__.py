"""Run every benchmark and print one BENCH line per figure."""

from __future__ import annotations

import sys

from benchmarks import (
    cli_and_compile,
    embeddings,
    executor,
    feature_updates,
    features,
    serving,
    training,
)

SUITES = (cli_and_compile, executor, features, feature_updates, embeddings, serving, training)


def main() -> int:
    for suite in SUITES:
        for line in suite.run():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
