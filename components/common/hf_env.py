"""Hugging Face settings for a job, applied before transformers is imported (it reads them then)."""

from __future__ import annotations

import os
import warnings


def configure(offline: bool = True) -> None:
    """Quiet logs without progress bars; offline unless the job must download a hub model.

    Local runs and tests only ever load folders: offline mode makes sure a typo in a model name
    fails at once instead of reaching for the network.
    """
    defaults = {
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
        "TQDM_DISABLE": "1",  # the GGUF reader draws its own tqdm bar into the job log
    }
    if offline:
        defaults["HF_HUB_OFFLINE"] = "1"
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Deprecation notices from the libraries say nothing about this job's data or model.
    warnings.filterwarnings("ignore", category=FutureWarning)


def needs_hub(base_model_id: str | None) -> bool:
    """Whether BASE_MODEL_ID names a hub model rather than a folder (or the local GGUF)."""
    chosen = (base_model_id or "").strip()
    return bool(chosen) and not os.path.isdir(os.path.expanduser(chosen))
