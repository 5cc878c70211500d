"""The model server of a local batch transform job: the handler contract of SageMaker's
framework serving containers (the `sagemaker-inference` toolkit), without the HTTP.

Run as a plain script under the model image's interpreter, `python model_server.py WORK_DIR`,
never imported by the executor: standard library only, plus numpy, torch or xgboost when the
image's Python has them. WORK_DIR/plan.json says where the model and its code are and lists
the requests (bodies under WORK_DIR); each response is written to WORK_DIR/responses/<n> and
their content types to WORK_DIR/responses.json.

The model's code (a module with any of model_fn, input_fn, predict_fn, output_fn or
transform_fn) is loaded as the toolkit loads it, with the code folder first on sys.path and as
the working directory; its requirements.txt is installed first. A missing handler gets the
toolkit's default: JSON, CSV and NPY decoding and encoding, `model.predict(data)` or
`model(data)`, a TorchScript model.pt/model.pth. Without code, an XGBoost algorithm image loads
`xgboost-model` and predicts on CSV or libsvm, when the xgboost package is there.

A failure of the model's code ends the process with its traceback, whose last line becomes the
job's failure reason; a job that cannot run here at all writes WORK_DIR/failure and exits 2.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import pickle
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

UTF8_TYPES = ("application/json", "text/csv")
ANY = "*/*"
REFUSED = 2


class Refused(Exception):
    """The job cannot run here (not the model's code failing): one line."""


def _base(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _number(text: str) -> Any:
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _text(data: Any) -> str:
    return data if isinstance(data, str) else bytes(data).decode("utf-8")


# -- the toolkit's default handlers -----------------------------------------------------------
def default_model_fn(model_dir: str) -> Any:
    """A TorchScript model.pt / model.pth (the PyTorch container's default), else none."""
    for name in ("model.pt", "model.pth"):
        path = os.path.join(model_dir, name)
        if os.path.isfile(path):
            try:
                import torch
            except ImportError:
                break
            try:
                model = torch.jit.load(path, map_location="cpu")
            except RuntimeError:
                model = torch.load(path, map_location="cpu", weights_only=False)
            if hasattr(model, "eval"):
                model.eval()
            return model
    raise NotImplementedError(
        "the model's code defines no model_fn and the model holds no model.pt to load: define "
        "model_fn(model_dir) in the inference script"
    )


def default_input_fn(input_data: Any, content_type: str | None) -> Any:
    base, np = _base(content_type), _numpy()
    if base == "application/json":
        data = json.loads(input_data)
        return np.array(data) if np is not None else data
    if base == "text/csv":
        text = _text(input_data)
        if np is not None:
            return np.genfromtxt(io.StringIO(text), dtype=None, delimiter=",")
        rows = [[_number(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
        return rows[0] if len(rows) == 1 else rows
    if base == "application/x-npy" and np is not None:
        return np.load(io.BytesIO(bytes(input_data)), allow_pickle=True)
    raise ValueError(
        f"Content type {content_type} is not supported by the default input_fn (application/json, "
        "text/csv, application/x-npy): define input_fn(input_data, content_type)"
    )


def default_predict_fn(data: Any, model: Any) -> Any:
    if hasattr(model, "predict"):
        return model.predict(data)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        with torch.no_grad():
            result = model(torch.as_tensor(data))
        return result.detach().cpu().numpy() if hasattr(result, "detach") else result
    if callable(model):
        return model(data)
    raise TypeError(
        f"the model ({type(model).__name__}) has no predict() and is not callable: define "
        "predict_fn(data, model)"
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return value.tolist() if hasattr(value, "tolist") else value


def default_output_fn(prediction: Any, accept: str) -> Any:
    base, np = _base(accept), _numpy()
    if base == "application/json" or base.endswith("+json"):
        return json.dumps(_plain(prediction))
    if base == "text/csv":
        if np is not None:
            buffer = io.StringIO()
            np.savetxt(
                buffer, np.atleast_1d(np.asarray(_plain(prediction))), delimiter=",", fmt="%s"
            )
            return buffer.getvalue()
        rows = _plain(prediction)
        rows = rows if isinstance(rows, list) else [rows]
        return "".join(
            (",".join(map(str, row)) if isinstance(row, list) else str(row)) + "\n" for row in rows
        )
    if base == "application/x-npy" and np is not None:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(_plain(prediction)))
        return buffer.getvalue()
    raise ValueError(
        f"Accept {accept} is not supported by the default output_fn (application/json, text/csv, "
        "application/x-npy): define output_fn(prediction, accept)"
    )


# -- the XGBoost algorithm ----------------------------------------------------------------------
def _xgboost_handlers(image: str) -> dict[str, Any]:
    try:
        import xgboost
    except ImportError:
        raise Refused(
            f"ClientError: model image {image} is the SageMaker XGBoost algorithm, which runs "
            "locally only where the image's Python has the xgboost package (pip install "
            "xgboost, or map the image to such an interpreter under local.images)"
        ) from None
    np = _numpy()

    def model_fn(model_dir: str) -> Any:
        path = os.path.join(model_dir, "xgboost-model")
        if not os.path.isfile(path):
            files = sorted(os.listdir(model_dir)) if os.path.isdir(model_dir) else []
            if len(files) != 1:
                raise FileNotFoundError(f"no xgboost-model in the model (it holds {files})")
            path = os.path.join(model_dir, files[0])
        # As the container's serve_utils: a pickled Booster (what its training writes) first,
        # then XGBoost's own model formats. (xgboost 3 reports a pickle it cannot load as a
        # UnicodeDecodeError, not an XGBoostError.)
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
            booster = xgboost.Booster()
            booster.load_model(path)
            return booster

    def input_fn(input_data: Any, content_type: str | None) -> Any:
        # A request with no content type is CSV, as the algorithm's serving stack reads it.
        base = _base(content_type) or "text/csv"
        lines = [line for line in _text(input_data).splitlines() if line.strip()]
        if base == "text/csv":
            rows = [[float(v) if v.strip() else np.nan for v in line.split(",")] for line in lines]
            return xgboost.DMatrix(np.array(rows, dtype=float))
        if base == "text/libsvm":
            entries = [
                {int(k): float(v) for k, v in (p.split(":") for p in line.split()[1:])}
                for line in lines
            ]
            width = 1 + max((k for row in entries for k in row), default=0)
            dense = np.full((len(entries), width), np.nan)
            for i, row in enumerate(entries):
                for k, v in row.items():
                    dense[i, k] = v
            return xgboost.DMatrix(dense)
        raise ValueError(
            f"Content type {content_type} is not supported by the XGBoost algorithm locally "
            "(text/csv, text/libsvm)"
        )

    def predict_fn(data: Any, model: Any) -> Any:
        return model.predict(data)

    def output_fn(prediction: Any, accept: str) -> Any:
        values = _plain(prediction)
        if _base(accept) == "application/json":
            return json.dumps({"predictions": [{"score": v} for v in values]})
        if _base(accept) == "application/jsonlines":
            return "".join(json.dumps({"score": v}) + "\n" for v in values)
        return "".join(
            (",".join(map(str, v)) if isinstance(v, list) else str(v)) + "\n" for v in values
        )

    return {
        "model_fn": model_fn,
        "input_fn": input_fn,
        "predict_fn": predict_fn,
        "output_fn": output_fn,
    }


# -- loading and calling ------------------------------------------------------------------------
def _user_module(code_dir: str, program: str) -> Any:
    path = Path(code_dir) / (program if program.endswith(".py") else program + ".py")
    sys.path.insert(0, code_dir)
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise Refused(f"ClientError: cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _call(function: Any, *args: Any) -> Any:
    """Call a handler, giving a trailing `context` parameter (the PyTorch toolkit's) None."""
    try:
        parameters = [
            p
            for p in inspect.signature(function).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):
        parameters = []
    if len(parameters) == len(args) + 1:
        return function(*args, None)
    return function(*args)


def handlers(plan: dict[str, Any]) -> dict[str, Any]:
    """model_fn and transform_fn: the module's own where it has them, else the defaults."""
    if plan.get("builtin") == "xgboost":
        found = _xgboost_handlers(plan.get("image") or "?")
    else:
        module = _user_module(plan["code_dir"], plan["program"])
        found = {
            name: getattr(module, name)
            for name in ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
            if callable(getattr(module, name, None))
        }
    model_fn = found.get("model_fn", default_model_fn)
    if "transform_fn" in found:
        user_transform_fn = found["transform_fn"]

        def transform_fn(model: Any, data: Any, content_type: str | None, accept: str) -> Any:
            return _call(user_transform_fn, model, data, content_type, accept)

    else:
        input_fn = found.get("input_fn", default_input_fn)
        predict_fn = found.get("predict_fn", default_predict_fn)
        output_fn = found.get("output_fn", default_output_fn)

        def transform_fn(model: Any, data: Any, content_type: str | None, accept: str) -> Any:
            decoded = _call(input_fn, data, content_type)
            prediction = _call(predict_fn, decoded, model)
            return _call(output_fn, prediction, accept)

    return {"model_fn": model_fn, "transform_fn": transform_fn}


@contextmanager
def deadline(seconds: float | None, what: str):
    """ModelClientConfig.InvocationsTimeoutInSeconds, as the agent's per-request timeout."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"{what} took longer than InvocationsTimeoutInSeconds ({seconds:g} s)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _install_requirements(code_dir: str | None) -> int:
    """The toolkit installs the code folder's requirements.txt before loading the model."""
    if not code_dir:
        return 0
    requirements = os.path.join(code_dir, "requirements.txt")
    if not os.path.isfile(requirements):
        return 0
    sys.stdout.flush()
    return subprocess.call(["pip", "install", "-r", requirements])


def _bytes(response: Any) -> bytes:
    if isinstance(response, str):
        return response.encode("utf-8")
    if isinstance(response, (bytes, bytearray, memoryview)):
        return bytes(response)
    raise TypeError(
        f"output_fn returned {type(response).__name__}; a response must be str or bytes"
    )


def main(argv: list[str]) -> int:
    # The server's own folder must not shadow the model's modules (`import batch`, `import state`).
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    work = Path(argv[1])
    plan = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    code = _install_requirements(plan.get("code_dir"))
    if code:
        return code
    try:
        found = handlers(plan)
    except Refused as refused:
        (work / "failure").write_text(str(refused), encoding="utf-8")
        print(refused, file=sys.stderr)
        return REFUSED
    # The framework toolkits answer JSON by default; the XGBoost algorithm one value a line.
    builtin_accept = "text/csv" if plan.get("builtin") == "xgboost" else "application/json"
    default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or builtin_accept
    timeout = plan.get("timeout")
    with deadline(timeout, "model_fn"):
        model = _call(found["model_fn"], plan["model_dir"])
    print(f"model server: model loaded from {plan['model_dir']}", flush=True)
    responses_dir = work / "responses"
    responses_dir.mkdir(parents=True, exist_ok=True)
    answered = []
    for number, request in enumerate(plan["requests"]):
        body = (work / request["body"]).read_bytes()
        content_type = request.get("content_type")
        accept = request.get("accept")
        if not accept or accept == ANY:
            accept = default_accept
        data: Any = body.decode("utf-8") if _base(content_type) in UTF8_TYPES else bytearray(body)
        with deadline(timeout, f"request {number + 1}"):
            result = found["transform_fn"](model, data, content_type, accept)
        response, response_type = result if isinstance(result, tuple) else (result, accept)
        (responses_dir / f"{number:06d}").write_bytes(_bytes(response))
        answered.append({"content_type": response_type})
    (work / "responses.json").write_text(json.dumps(answered), encoding="utf-8")
    print(f"model server: answered {len(answered)} request(s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
