"""One prompt format for training, evaluation and serving, so the model sees at inference exactly
what it was fine-tuned on: the tokenizer's chat template with our system prompt, or a plain
instruction/response layout for tokenizers without a template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYSTEM_PROMPT = "You are the author's writing twin. Answer in the author's own voice and style."
IGNORE_INDEX = -100  # label value that the causal-LM loss skips


def prompt_text(tokenizer: Any, instruction: str) -> str:
    """The text the model continues to answer `instruction`."""
    if getattr(tokenizer, "chat_template", None):
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": instruction},
        ]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{SYSTEM_PROMPT}\n\n### Instruction:\n{instruction}\n\n### Response:\n"


def prompt_ids(tokenizer: Any, instruction: str) -> list[int]:
    # Templates carry their own special tokens (Llama's <|begin_of_text|>): no second BOS.
    return tokenizer(prompt_text(tokenizer, instruction), add_special_tokens=False)["input_ids"]


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]


def encode_example(tokenizer: Any, instruction: str, answer: str, max_length: int) -> Encoded:
    """Token ids of prompt + answer + end of turn, with the prompt masked out of the labels so
    the loss (and the perplexity built from it) is about the answer only."""
    prompt = prompt_ids(tokenizer, instruction)
    end = tokenizer.eos_token or ""
    reply = tokenizer(answer + end, add_special_tokens=False)["input_ids"]
    # Keep at least a few answer tokens: a prompt that fills the window would teach nothing.
    prompt = prompt[-max(1, max_length - min(len(reply), 32)) :]
    reply = reply[: max(0, max_length - len(prompt))]
    return Encoded(prompt + reply, [IGNORE_INDEX] * len(prompt) + reply)
