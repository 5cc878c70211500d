"""Fixtures for the model half of llm-twin-ct (train, evaluate, registry, deploy, serving).

Most tests use a tiny randomly initialised Llama that shares SmolLM2's tokenizer: it trains in
a fraction of a second per step. One test per job uses the real SmolLM2-135M weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
CLEARED = (
    "SM_PIPELINES_LOCAL_STATE",
    "BASE_MODEL_ID",
    "LLM_API_BASE",
    "LLM_API_KEY",
    "SM_HPS",
    "SM_MODEL_DIR",
    "SM_CHANNEL_TRAIN",
    "AUTOSCALING_MIN_CAPACITY",
    "AUTOSCALING_MAX_CAPACITY",
    "AUTOSCALING_TARGET_INVOCATIONS",
    "MODEL_EXECUTION_ROLE_ARN",
)
QUIET = {
    "HF_HUB_OFFLINE": "1",
    "TQDM_DISABLE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}

TOPICS = ["caching", "testing", "deployment", "feature stores", "retrieval", "monitoring"]


def rows(count: int = 12) -> list[dict[str, str]]:
    """Instruction/answer pairs in one recognisable voice, so a little training shows."""
    return [
        {
            "instruction": f"Write a short note about {TOPICS[i % len(TOPICS)]}.",
            "answer": f"Here is the thing about {TOPICS[i % len(TOPICS)]}: keep it simple, "
            "measure it, and ship it.",
        }
        for i in range(count)
    ]


def write_jsonl(path: Path, items: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in QUIET.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def smollm2_base() -> Any:
    """The real base model reference (converted from the GGUF once per machine, then cached)."""
    from components.common import base_model

    return base_model.local_gguf_model()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, smollm2_base: Any) -> Path:
    """A tiny random Llama with SmolLM2's tokenizer and chat template, as a model folder."""
    os.environ.update(QUIET)
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_base.location)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        # Wider than the usual 0.02: with 32-wide hidden states, tiny embeddings cap the logits
        # so low that no adapter could lower the loss much.
        initializer_range=0.3,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-base")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_component(
    module: str, ml_root: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m components.<module>` as the jobs run it, with /opt/ml moved to `ml_root`."""
    return subprocess.run(
        [sys.executable, "-m", f"components.{module}", *args],
        env={**os.environ, "SM_ML_ROOT": str(ml_root), "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=ml_root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_failure(done: subprocess.CompletedProcess[str], prog: str, message: str) -> None:
    """A bad input ends with exit 1 and one readable last line, never a traceback."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{prog}: ") and message in last, last


def compiled_step(name: str) -> dict[str, Any]:
    """A step of the compiled local llm-twin-ct definition (searching condition branches)."""
    definition = json.loads((ROOT / "definitions/compiled/local/llm-twin-ct.json").read_text())
    pending = list(definition["Steps"])
    while pending:
        step = pending.pop()
        if step["Name"] == name:
            return step
        if step["Type"] == "Condition":
            pending += step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]
    raise KeyError(name)


BUCKET = "llm-twin-local"


def resolve(node: Any, values: dict[str, Any]) -> Any:
    """The compiled step's arguments with its expressions evaluated, as SageMaker sends them."""
    if isinstance(node, dict):
        if set(node) == {"Get"}:
            return values[node["Get"]]
        if set(node) == {"Std:Join"}:
            join = node["Std:Join"]
            return join["On"].join(str(resolve(v, values)) for v in join["Values"])
        if set(node) == {"Std:JsonGet"}:
            # A property file's JSON is given as the value of its Get; the Path walks into it.
            found = values[node["Std:JsonGet"]["PropertyFile"]["Get"]]
            for part in node["Std:JsonGet"]["Path"].split("."):
                found = found[part]
            return found
        return {key: resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    return node


@pytest.fixture
def aws(fake_aws: None) -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        yield {"sagemaker": boto3.client("sagemaker", region_name="eu-west-1"), "s3": s3}


def register_request(version: int, approval: str, s3: Any) -> dict[str, Any]:
    """What the pipeline's RegisterModel step sends for one execution."""
    step = compiled_step("register-RegisterModel")
    evaluation_uri = f"s3://{BUCKET}/llm-twin/evaluate/exec-{version}/evaluation"
    report = {"metrics": {"answer_quality": round(0.4 + version / 100, 4), "perplexity": 5.0}}
    opik = {
        "dataset": {"name": "llm-twin-test-0123"},
        "experiments": {"candidate": f"exp-{version}"},
    }
    s3.put_object(
        Bucket=BUCKET,
        Key=f"llm-twin/evaluate/exec-{version}/evaluation/evaluation.json",
        Body=json.dumps(report).encode(),
    )
    return resolve(
        step["Arguments"],
        {
            "Steps.train.ModelArtifacts.S3ModelArtifacts": f"s3://{BUCKET}/train/{version}/model.tar.gz",
            "Steps.evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri": (
                evaluation_uri
            ),
            "Parameters.ModelApprovalStatus": approval,
            "Steps.evaluate.PropertyFiles.evaluation": {**report, "opik": opik},
        },
    )
