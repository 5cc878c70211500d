"""The process of a training job on SageMaker's XGBoost image in algorithm mode (no script).

Run by path with the interpreter that stands in for the image (it needs the `xgboost` package),
so it imports nothing of the executor. It keeps the container's contract as its documentation
and the abalone-style examples rely on it:
- hyperparameters from /opt/ml/input/config/hyperparameters.json, as strings: `num_round` is
  required, `early_stopping_rounds` and `csv_weights` are the container's own, every other one is
  an XGBoost parameter (`eval_metric` may be a comma-separated list);
- channels `train` (required) and `validation` under /opt/ml/input/data/<channel>, every file of
  the channel, in the channel's ContentType: `text/csv` (no header, the label in the first
  column) or `text/libsvm` (the container's default);
- each round's evaluation printed as `[<round>]\t<channel>-<metric>:<value>` (what SageMaker's
  metric regexes for the algorithm read, e.g. `validation:rmse`);
- the Booster pickled to /opt/ml/model/xgboost-model (what `pickle.load` in the examples' own
  evaluation scripts and the algorithm's serving stack read);
- a failure written to /opt/ml/output/failure (SageMaker's FailureReason) with exit code 1.
SAGEMAKER_BASE_DIR stands in for /opt/ml where the sandbox is not mounted there.
"""

import json
import os
import pickle
import sys
import tempfile

BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
CONTAINER_KEYS = ("num_round", "early_stopping_rounds", "csv_weights", "save_model_on_termination")


class AlgorithmError(Exception):
    """What the container reports as the job's failure."""


def _value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            continue
    return text


def _whole(hyperparameters, name):
    """A hyperparameter that must be a whole number, as the container validates it."""
    if name not in hyperparameters:
        return None
    value = _value(hyperparameters[name])
    if not isinstance(value, int) or value < 1:
        raise AlgorithmError(
            f"Hyperparameter {name}: {hyperparameters[name]!r} is not a whole number >= 1"
        )
    return value


def _files(channel_dir):
    found = []
    for root, dirs, names in os.walk(channel_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, n) for n in sorted(names) if not n.startswith(".")]
    return found


def _content_type(config):
    declared = (config.get("ContentType") or "text/libsvm").split(";")[0].strip().lower()
    if declared in ("text/csv", "csv"):
        return "csv"
    if declared in ("text/libsvm", "libsvm", "text/x-libsvm"):
        return "libsvm"
    raise AlgorithmError(
        f"Content type {declared} is not supported locally: the XGBoost algorithm runs text/csv "
        "and text/libsvm channels here (parquet and recordio-protobuf are not)"
    )


def _matrix(xgboost, name, config, weights):
    import numpy as np

    channel_dir = os.path.join(BASE, "input", "data", name)
    files = _files(channel_dir)
    if not files:
        raise AlgorithmError(f"Channel {name} is empty: no files under {channel_dir}")
    if _content_type(config) == "csv":
        try:
            rows = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
        except ValueError as exc:
            raise AlgorithmError(
                f"Loading csv data of channel {name} failed, please ensure data is in csv "
                f"format with no header and the label in the first column: {exc}"
            ) from None
        if weights:
            return xgboost.DMatrix(rows[:, 2:], label=rows[:, 0], weight=rows[:, 1])
        return xgboost.DMatrix(rows[:, 1:], label=rows[:, 0])
    with tempfile.NamedTemporaryFile("wb", suffix=".libsvm", delete=False) as joined:
        for path in files:
            with open(path, "rb") as part:
                data = part.read()
            joined.write(data if data.endswith(b"\n") else data + b"\n")
    try:
        return xgboost.DMatrix(f"{joined.name}?format=libsvm")
    except xgboost.core.XGBoostError as exc:
        raise AlgorithmError(f"Loading libsvm data of channel {name} failed: {exc}") from None
    finally:
        os.unlink(joined.name)


def train():
    config_dir = os.path.join(BASE, "input", "config")
    with open(os.path.join(config_dir, "hyperparameters.json"), encoding="utf-8") as handle:
        hyperparameters = json.load(handle)
    with open(os.path.join(config_dir, "inputdataconfig.json"), encoding="utf-8") as handle:
        channels = json.load(handle)
    try:
        import xgboost
    except ImportError:
        raise AlgorithmError(
            "the XGBoost algorithm needs the xgboost package in the Python that stands in for "
            "the image (pip install xgboost, or map the image under local.images)"
        ) from None
    if "num_round" not in hyperparameters:
        raise AlgorithmError("Missing required hyperparameter: num_round")
    if "train" not in channels:
        raise AlgorithmError("Missing required channel: train")
    num_round = _whole(hyperparameters, "num_round")
    early = _whole(hyperparameters, "early_stopping_rounds")
    weights = str(hyperparameters.get("csv_weights", "0")) == "1"
    params = {k: _value(v) for k, v in hyperparameters.items() if k not in CONTAINER_KEYS}
    if isinstance(params.get("eval_metric"), str) and "," in params["eval_metric"]:
        params["eval_metric"] = params["eval_metric"].split(",")
    evals = [(_matrix(xgboost, "train", channels["train"], weights), "train")]
    if "validation" in channels:
        evals.append(
            (_matrix(xgboost, "validation", channels["validation"], weights), "validation")
        )
    try:
        booster = xgboost.train(
            params,
            evals[0][0],
            num_boost_round=num_round,
            evals=evals,
            early_stopping_rounds=early,
            verbose_eval=True,
        )
    except xgboost.core.XGBoostError as exc:
        raise AlgorithmError(str(exc).strip().splitlines()[0]) from None
    model_dir = os.path.join(BASE, "model")
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "xgboost-model"), "wb") as handle:
        pickle.dump(booster, handle)


def main():
    try:
        train()
    except AlgorithmError as exc:
        output = os.path.join(BASE, "output")
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "failure"), "w", encoding="utf-8") as handle:
            handle.write(str(exc))
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
