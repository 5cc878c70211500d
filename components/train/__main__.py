"""Training job: read the train channel and hyperparameters, save a model to SM_MODEL_DIR."""

from __future__ import annotations

import sys

from components.common.contract import hyperparameters, model_dir, training_channel, write_json


def main() -> int:
    params = hyperparameters()
    channel = training_channel("train")
    rows = sum(
        1 for path in sorted(channel.glob("*.jsonl")) for line in path.open() if line.strip()
    )
    if rows == 0:
        print(f"train: no training rows in {channel}", file=sys.stderr)
        return 1
    write_json(model_dir() / "model.json", {"rows": rows, "hyperparameters": params})
    print(f"train: {rows} rows, hyperparameters {sorted(params)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
