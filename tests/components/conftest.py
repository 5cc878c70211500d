"""Real local stores for the data components: one SecantusDB server per session (each test gets
its own database), a Qdrant store in each test's tmp folder, and one embedding model load."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from sm_pipelines.local.services import mongodb_server

CLEARED = (
    "MONGODB_URI_SECRET",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "QDRANT_API_KEY_SECRET",
    "QDRANT_COLLECTION_PREFIX",
    "LLM_API_BASE",
    "LLM_API_KEY",
    "LLM_API_KEY_SECRET",
)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mongodb_server(tmp_path_factory.mktemp("secantus")) as uri:
        yield uri


@dataclass
class Stores:
    """The environment a component sees in a test, and handles to look behind it."""

    root: Path
    db: Database
    qdrant_path: Path

    @property
    def ml_root(self) -> Path:
        return self.root / "ml"

    def snapshot(self) -> dict[str, Any]:
        path = self.ml_root / "processing/output/snapshot/snapshot.json"
        return json.loads(path.read_text(encoding="utf-8"))

    def qdrant(self) -> Any:
        from qdrant_client import QdrantClient

        return QdrantClient(path=str(self.qdrant_path))


@pytest.fixture
def stores(mongo_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    database = f"test_{uuid.uuid4().hex[:12]}"
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MONGODB_DATABASE", database)
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setenv("SM_ML_ROOT", str(tmp_path / "ml"))
    client: MongoClient = MongoClient(mongo_uri)
    try:
        yield Stores(tmp_path, client[database], tmp_path / "qdrant")
    finally:
        client.drop_database(database)
        client.close()


@pytest.fixture(scope="session")
def embedding_tokenizer() -> Any:
    from components.common.embeddings import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="session")
def embedding_model() -> Any:
    from components.common.embeddings import load_model

    return load_model()


class SpyEncoder:
    """The real model, remembering every text it was asked to embed."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> Any:
        from components.common.embeddings import encode

        self.seen.extend(texts)
        return encode(self.model, texts)


@pytest.fixture
def encoder(embedding_model: Any) -> SpyEncoder:
    return SpyEncoder(embedding_model)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ARTICLE = """---
title: {title}
link: https://ada.example/{slug}
---
# {title}

{body}
"""


def make_corpus(root: Path, articles: int = 2, posts: int = 2) -> Path:
    """A tiny export folder: a few articles (several chunks each) and short posts."""
    for index in range(articles):
        sentences = " ".join(
            f"Sentence {n} of article {index} explains idempotent pipelines and content hashes."
            for n in range(60)
        )
        write(
            root / "articles" / f"article-{index}.md",
            ARTICLE.format(title=f"Article {index}", slug=f"article-{index}", body=sentences),
        )
    for index in range(posts):
        write(
            root / "posts" / f"post-{index}.md",
            f"Post {index}: print inserted, updated and unchanged counts after every ETL run, "
            "because a second run on the same sources must insert nothing at all.\n",
        )
    return root
