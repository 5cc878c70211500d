"""Job settings from the environment, each read only by the jobs that need it.

A value comes from `<NAME>`, or from `<NAME>_SECRET` holding a reference resolved at start (see
secret_refs.py). Nothing here knows whether MongoDB is Atlas or the local stand-in: only the URI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from components.common.contract import SECRET_SUFFIX
from components.common.job import JobError
from components.common.secret_refs import resolve_secret


def setting(name: str, env: Mapping[str, str] | None = None, required: bool = True) -> str | None:
    """`name` from the environment or its `_SECRET` reference; None when optional and absent."""
    env = os.environ if env is None else env
    value = env.get(name, "").strip()
    if value:
        return value
    reference = env.get(name + SECRET_SUFFIX, "").strip()
    if reference:
        return resolve_secret(reference, name + SECRET_SUFFIX)
    if required:
        raise JobError(
            f"{name} is not set (set {name}, or {name}{SECRET_SUFFIX} to "
            "secretsmanager:<id>[#json_key] or ssm:<name>)"
        )
    return None


@dataclass(frozen=True)
class MongoSettings:
    uri: str
    database: str


@dataclass(frozen=True)
class QdrantSettings:
    url: str | None
    path: str | None
    api_key: str | None
    prefix: str


@dataclass(frozen=True)
class LLMSettings:
    api_base: str
    api_key: str
    model: str
    timeout: float


def mongo_settings(env: Mapping[str, str] | None = None) -> MongoSettings:
    env = os.environ if env is None else env
    uri = setting("MONGODB_URI", env)
    assert uri is not None
    return MongoSettings(uri=uri, database=env.get("MONGODB_DATABASE", "").strip() or "llm_twin")


def qdrant_settings(env: Mapping[str, str] | None = None) -> QdrantSettings:
    env = os.environ if env is None else env
    url = env.get("QDRANT_URL", "").strip() or None
    path = env.get("QDRANT_PATH", "").strip() or None
    if not url and not path:
        raise JobError(
            "QDRANT_URL is not set (set QDRANT_URL for a Qdrant server, or QDRANT_PATH for a "
            "local store)"
        )
    api_key = setting("QDRANT_API_KEY", env, required=False) if url else None
    return QdrantSettings(
        url=url, path=path, api_key=api_key, prefix=env.get("QDRANT_COLLECTION_PREFIX", "")
    )


def llm_settings(env: Mapping[str, str] | None = None) -> LLMSettings | None:
    """The instruction-writing LLM, or None for the offline generator (no LLM_API_BASE)."""
    env = os.environ if env is None else env
    base = env.get("LLM_API_BASE", "").strip()
    if not base:
        return None
    if not base.startswith(("http://", "https://")):
        raise JobError(f"LLM_API_BASE={base!r}: expected an http(s):// URL")
    key = setting("LLM_API_KEY", env)
    assert key is not None
    raw_timeout = env.get("LLM_TIMEOUT", "60")
    try:
        timeout = float(raw_timeout)
    except ValueError:
        raise JobError(f"LLM_TIMEOUT={raw_timeout!r}: expected seconds") from None
    if timeout <= 0:
        raise JobError(f"LLM_TIMEOUT={raw_timeout!r}: expected seconds > 0")
    return LLMSettings(
        api_base=base.rstrip("/"),
        api_key=key,
        model=env.get("LLM_MODEL", "").strip() or "gpt-4o-mini",
        timeout=timeout,
    )
