"""Dataset job: write train/test instruction pairs as JSONL (stand-in generator)."""

from __future__ import annotations

import argparse
import json
import sys

from components.common.contract import processing_output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="components.dataset")
    parser.add_argument("--features-digest", required=True)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    args = parser.parse_args(argv)
    pairs = [
        {"instruction": f"Explain topic {i} in the author's voice.", "answer": f"Topic {i}: ..."}
        for i in range(10)
    ]
    cut = max(1, int(len(pairs) * (1 - args.test_fraction)))
    for name, rows in (("train", pairs[:cut]), ("test", pairs[cut:])):
        out = processing_output(name) / f"{name}.jsonl"
        out.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(f"dataset: {cut} train / {len(pairs) - cut} test pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
