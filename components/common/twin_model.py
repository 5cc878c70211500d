"""A trained twin model folder (what the training job leaves in SM_MODEL_DIR): load and generate.

The folder holds either a merged model (config.json + weights) or a LoRA adapter
(adapter_config.json) whose base model training_report.json names; both load to the same
plain model, so evaluation and serving never care which was saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.common import base_model
from components.common.artifacts import is_model_folder
from components.common.job import JobError
from components.common.prompting import prompt_text

REPORT_FILE = "training_report.json"


def load(folder: Path) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) from a trained model folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not is_model_folder(folder):
        raise JobError(f"{folder} holds no model (neither config.json nor adapter_config.json)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if (folder / "adapter_config.json").is_file():
            model = _merged_adapter(folder)
        else:
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=_dtype(torch))
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise JobError(f"cannot load the model in {folder}: {first}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if torch.cuda.is_available():
        model.to("cuda")
    model.eval()
    return model, tokenizer


def _dtype(torch: Any) -> Any:
    # bfloat16 halves memory on a GPU; on CPU float32 is both faster and exact.
    return torch.bfloat16 if torch.cuda.is_available() else torch.float32


def _merged_adapter(folder: Path) -> Any:
    from peft import PeftModel

    report_path = folder / REPORT_FILE
    if not report_path.is_file():
        raise JobError(f"{folder} holds a LoRA adapter but no {REPORT_FILE} naming its base model")
    reference = json.loads(report_path.read_text(encoding="utf-8")).get("base_model")
    if not isinstance(reference, dict):
        raise JobError(f"{report_path}: no base_model reference")
    base, _ = base_model.load(base_model.from_reference(reference))
    return PeftModel.from_pretrained(base, folder).merge_and_unload()


def generate(
    model: Any,
    tokenizer: Any,
    instructions: list[str],
    max_new_tokens: int = 96,
    temperature: float = 0.0,
    batch_size: int = 8,
    repetition_penalty: float = 1.0,
) -> list[str]:
    """Answers to `instructions`, in order; greedy unless temperature > 0 (so scores repeat)."""
    import torch

    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    answers: list[str] = []
    for start in range(0, len(instructions), batch_size):
        batch = [prompt_text(tokenizer, item) for item in instructions[start : start + batch_size]]
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
        encoded = encoded.to(model.device)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature}
        with torch.no_grad():
            output = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                repetition_penalty=repetition_penalty,
                **sampling,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        answers += [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return answers
