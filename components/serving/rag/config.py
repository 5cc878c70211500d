"""The service's settings, from the environment (and --state for local runs).

SAGEMAKER_ENDPOINT_NAME   endpoint to generate with (locally: the one endpoint under <state>)
SAGEMAKER_RUNTIME_URL     sagemaker-runtime URL; set locally to the model server's address
AWS_REGION                region of the endpoint (defaults to us-east-1 with a local URL)
QDRANT_URL / QDRANT_PATH  the vector store, as for the data jobs (locally <state>/qdrant)
LLM_API_BASE, LLM_API_KEY optional OpenAI-compatible LLM for query expansion and self-query
RAG_TOP_K (3), RAG_MAX_TOP_K (10), RAG_CANDIDATES (12 per collection and query),
RAG_CONTEXT_TOKENS (1024), RAG_MAX_QUERY_TOKENS (254), RAG_MAX_NEW_TOKENS (128),
RAG_TEMPERATURE (0.0), RAG_REPETITION_PENALTY (1.2), RAG_EXPANSIONS (2), RAG_INVOKE_TIMEOUT
(120 s)
RAG_TOKENIZER             the generator's tokenizer (folder or id) for token counts (tokens.py)
EMBEDDING_RUNTIME         torch (default) or onnx-int8: the features job's, for query vectors
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components.common import local_endpoints
from components.common.embeddings import MAX_SEQUENCE_TOKENS
from components.common.job import JobError

ENDPOINT_VARIABLE = "SAGEMAKER_ENDPOINT_NAME"
QUERY_TOKENS = MAX_SEQUENCE_TOKENS - 2
RUNTIME_URL_VARIABLE = "SAGEMAKER_RUNTIME_URL"


@dataclass(frozen=True)
class RagSettings:
    endpoint_name: str
    runtime_url: str | None
    region: str | None
    state: Path | None
    environment: str
    top_k: int = 3
    max_top_k: int = 10
    candidates: int = 12
    context_tokens: int = 1024
    # The embedding model sees at most 256 tokens with [CLS] and [SEP]; a longer query would be
    # cut silently, so it is refused instead.
    max_query_tokens: int = QUERY_TOKENS
    max_query_chars: int = 4000
    max_new_tokens: int = 128
    temperature: float = 0.0
    # Greedy decoding of a small model loops on one sentence; the Hugging Face serving
    # containers and our model server take the same parameter.
    repetition_penalty: float = 1.2
    expansions: int = 2
    invoke_timeout: float = 120.0

    @property
    def generation_parameters(self) -> dict[str, object]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "repetition_penalty": self.repetition_penalty,
            "return_full_text": False,
        }


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise JobError(f"{name}={raw!r}: expected a number") from None
    if not low <= value <= high:
        raise JobError(f"{name}={raw!r}: expected a value from {low:g} to {high:g}")
    return value


def single_local_endpoint(state: Path) -> str:
    """The endpoint deployed under <state>, when there is exactly one."""
    folder = local_endpoints.folder(state)
    names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    if len(names) == 1:
        return names[0]
    if not names:
        raise JobError(
            f"no endpoint is deployed under {state} (run `make run` or `sm-pipelines run "
            "llm-twin-ct --local` first)"
        )
    raise JobError(
        f"{len(names)} endpoints under {state} ({', '.join(names)}): choose one with --endpoint "
        f"or {ENDPOINT_VARIABLE}"
    )


def rag_settings(env: Mapping[str, str] | None = None, state: Path | None = None) -> RagSettings:
    env = os.environ if env is None else env
    endpoint = env.get(ENDPOINT_VARIABLE, "").strip()
    if not endpoint:
        if state is None:
            raise JobError(f"{ENDPOINT_VARIABLE} is not set (the model endpoint to generate with)")
        endpoint = single_local_endpoint(state)
    local_endpoints.check_name(endpoint)
    runtime_url = env.get(RUNTIME_URL_VARIABLE, "").strip() or None
    if runtime_url and not runtime_url.startswith(("http://", "https://")):
        raise JobError(f"{RUNTIME_URL_VARIABLE}={runtime_url!r}: expected an http(s):// URL")
    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip() or None
    settings = RagSettings(
        endpoint_name=endpoint,
        runtime_url=runtime_url.rstrip("/") if runtime_url else None,
        region=region,
        state=state,
        environment=env.get("SM_PIPELINES_ENVIRONMENT", "").strip() or "local",
        top_k=int(_number(env, "RAG_TOP_K", 3, 1, 50)),
        max_top_k=int(_number(env, "RAG_MAX_TOP_K", 10, 1, 50)),
        candidates=int(_number(env, "RAG_CANDIDATES", 12, 1, 200)),
        context_tokens=int(_number(env, "RAG_CONTEXT_TOKENS", 1024, 64, 32768)),
        max_query_tokens=int(
            _number(
                env, "RAG_MAX_QUERY_TOKENS", MAX_SEQUENCE_TOKENS - 2, 1, MAX_SEQUENCE_TOKENS - 2
            )
        ),
        max_new_tokens=int(_number(env, "RAG_MAX_NEW_TOKENS", 128, 1, 1024)),
        temperature=_number(env, "RAG_TEMPERATURE", 0.0, 0.0, 5.0),
        repetition_penalty=_number(env, "RAG_REPETITION_PENALTY", 1.2, 1.0, 2.0),
        expansions=int(_number(env, "RAG_EXPANSIONS", 2, 0, 5)),
        invoke_timeout=_number(env, "RAG_INVOKE_TIMEOUT", 120.0, 1.0, 3600.0),
    )
    if settings.top_k > settings.max_top_k:
        raise JobError(f"RAG_TOP_K={settings.top_k} is above RAG_MAX_TOP_K={settings.max_top_k}")
    return settings
