"""EMBEDDING_RUNTIME: the opt-in int8 ONNX runtime against the fp32 torch one, and how the
features job treats a runtime switch."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.common import embeddings, mongo, onnx_embeddings, qdrant
from components.common.featurestore import read_records
from components.common.job import JobError
from components.common.settings import mongo_settings, qdrant_settings
from components.etl.__main__ import main as etl_main
from components.features.sync import FEATURE_VERSION, FeatureSync, feature_version
from tests.components.conftest import SpyEncoder, Stores, make_corpus

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Idempotent pipelines give every document an id from its content hash.",
    "Qdrant keeps one collection per document type, with 384-dimensional vectors.",
    "Short.",
    " ".join(f"Sentence {n} repeats that a re-run must insert nothing at all." for n in range(60)),
]


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The int8 model exported into an empty cache with every network connection refused."""
    saved = os.environ.get("LLM_TWIN_CACHE")
    os.environ["LLM_TWIN_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    real_connect = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        raise OSError(f"test: no network (connect to {address})")

    root = logging.getLogger()
    logging_before = (root.level, list(root.handlers))
    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        model = embeddings.load_model("onnx-int8")
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
    # The quantizer configures root logging on import; a job's logging must not change.
    assert (root.level, list(root.handlers)) == logging_before
    try:
        yield model
    finally:
        if saved is None:
            os.environ.pop("LLM_TWIN_CACHE", None)
        else:
            os.environ["LLM_TWIN_CACHE"] = saved


def test_the_int8_model_loads_offline_into_the_cache_and_agrees_with_torch(
    onnx_model: Any, embedding_model: Any
) -> None:
    path = onnx_embeddings.model_path()
    assert path.is_file() and str(path).startswith(os.environ["LLM_TWIN_CACHE"])
    assert not list(path.parent.glob("*.fp32.onnx"))  # only the int8 model is kept
    int8 = embeddings.encode(onnx_model, TEXTS)
    fp32 = embeddings.encode(embedding_model, TEXTS)
    assert int8.shape == fp32.shape == (len(TEXTS), 384) and int8.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1, atol=1e-5)
    cosine = (int8 * fp32).sum(axis=1)
    assert cosine.min() >= 0.95, cosine
    # Unrelated texts stay apart: agreement is not every vector collapsing onto one.
    assert float(int8[0] @ int8[2]) < 0.9


def test_the_exported_graph_masks_padding(tmp_path: Path, onnx_model: Any) -> None:
    """Batched with a 256-token text, a short one is padded: the graph must mask the padding
    (traced with SDPA and an all-ones mask, transformers can leave the mask out of the graph)."""
    fp32 = tmp_path / "model.fp32.onnx"
    onnx_embeddings.export_fp32(embeddings.model_dir(), fp32)
    graph = onnx_embeddings.OnnxEmbedder(fp32, embeddings.load_tokenizer(), 256)
    alone = graph.encode([TEXTS[2]], batch_size=1)[0]
    padded = graph.encode([TEXTS[3], TEXTS[2]], batch_size=2)[1]
    assert float(alone @ padded) > 0.99999
    # The attention projections quantize activations with one range per batch, so a long
    # neighbour shifts a short text a little (0.9946 here), never as far as unmasked padding.
    alone = embeddings.encode(onnx_model, [TEXTS[2]], batch_size=1)[0]
    padded = embeddings.encode(onnx_model, [TEXTS[3], TEXTS[2]], batch_size=2)[1]
    assert float(alone @ padded) > 0.99


def test_a_second_load_reuses_the_export(onnx_model: Any) -> None:
    path = onnx_embeddings.model_path()
    written = path.stat().st_mtime_ns
    embeddings.load_model("onnx-int8")
    assert path.stat().st_mtime_ns == written


def test_the_cache_key_follows_the_recipe_and_the_libraries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = onnx_embeddings.cache_key()
    monkeypatch.setattr(onnx_embeddings, "EXPORT_VERSION", "onnx-int8-v0")
    assert onnx_embeddings.cache_key() != key
    monkeypatch.undo()
    real = onnx_embeddings._version
    monkeypatch.setattr(
        onnx_embeddings, "_version", lambda d: "0.0" if d == "onnxruntime" else real(d)
    )
    assert onnx_embeddings.cache_key() != key


@pytest.mark.parametrize("value", ["gpu", "ONNX", "onnx-fp16"])
def test_an_unknown_runtime_is_one_line(value: str) -> None:
    with pytest.raises(JobError, match=f"^EMBEDDING_RUNTIME={value!r}: expected one of torch, "):
        embeddings.embedding_runtime({"EMBEDDING_RUNTIME": value})
    assert embeddings.embedding_runtime({}) == "torch"
    assert embeddings.embedding_runtime({"EMBEDDING_RUNTIME": " onnx-int8 "}) == "onnx-int8"


def test_the_features_job_refuses_an_unknown_runtime_in_one_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMBEDDING_RUNTIME": "tensorrt"}
    done = subprocess.run(
        [sys.executable, "-m", "components.features", "--raw-digest", "a" * 64],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "features: EMBEDDING_RUNTIME='tensorrt': expected one of torch, onnx-int8"
    ]


def test_switching_runtime_re_embeds_every_chunk_and_keeps_no_stale_vector(
    stores: Stores,
    tmp_path: Path,
    embedding_tokenizer: Any,
    encoder: SpyEncoder,
    onnx_model: Any,
) -> None:
    """Vectors of two runtimes must not mix in one store: another runtime is another version."""
    assert feature_version() == FEATURE_VERSION  # stores written before runtimes stay current
    assert feature_version("onnx-int8") != FEATURE_VERSION
    assert etl_main(["--sources", str(make_corpus(tmp_path / "c", 1, 2)), "--author", "Ada"]) == 0
    settings = qdrant_settings()

    def run(embed: Any, version: str) -> Any:
        client = qdrant.connect(settings)
        try:
            sync = FeatureSync(
                mongo.connect(mongo_settings()),
                client,
                settings,
                embedding_tokenizer,
                embed,
                version=version,
            )
            report = sync.run()
            ids = {p.id for p in client.scroll("embedded_articles", limit=1000)[0]}
            return report, ids, read_records(client, settings)
        finally:
            client.close()

    first, torch_ids, _ = run(encoder, FEATURE_VERSION)
    int8 = SpyEncoder(onnx_model)
    switched, int8_ids, records = run(int8, feature_version("onnx-int8"))
    assert switched.changed == 3 and switched.chunks_embedded == first.chunks_total
    assert len(int8.seen) == first.chunks_total
    assert switched.chunks_total == first.chunks_total
    assert torch_ids and not torch_ids & int8_ids
    assert {r["feature_version"] for r in records.values()} == {feature_version("onnx-int8")}
    again, _, _ = run(int8, feature_version("onnx-int8"))
    assert (again.changed, again.chunks_embedded) == (0, 0)


def test_the_feed_forward_layers_keep_per_block_ranges_and_attention_is_dynamic(
    onnx_model: Any,
) -> None:
    import onnx

    graph = onnx.load(str(onnx_embeddings.model_path())).graph
    nbits = [n for n in graph.node if n.op_type == "MatMulNBits"]
    # Six layers: two feed-forward MatMuls each per block, four attention projections each
    # with int8 weights per output channel; the float MatMuls left are attention's own
    # (scores times values), which have no weights.
    assert len(nbits) == 12 and all("intermediate" in n.name or "output" in n.name for n in nbits)
    assert sum(n.op_type == "MatMulInteger" for n in graph.node) == 24
    weights = {i.name for i in graph.initializer}
    assert not [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def test_an_unknown_graph_is_refused_in_one_line(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    square = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="only")],
        "square-only",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [square],
    )
    path = tmp_path / "model.fp32.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(JobError, match=r"found 1 and 0; the int8 export does not know"):
        onnx_embeddings.split_matmuls(path)
