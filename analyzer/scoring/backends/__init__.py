"""Fast inference backends for :class:`analyzer.scoring.scorer.HypeScorer`.

A backend turns sentences into the head's uncalibrated logits; the temperatures stay with the
scorer, so every backend is calibrated the same way.

``torch``
    The scorer's own encoder and head fed length-sorted, dynamically padded batches tokenized
    in one pass, under ``torch.inference_mode`` with one thread per physical core. On CUDA:
    bf16/fp16 autocast, batches of 256, tokenization in a prefetching worker thread.
``onnx``
    Encoder, pooling, normalisation and head exported to one ONNX graph, run by ONNX Runtime
    with every graph optimisation (its fp32 kernels are about twice as fast as eager torch's
    on many CPUs), as one single-threaded stream of small batches per physical core.
``onnx-int8``
    The same graph with smoothed dynamic int8 quantisation (see :mod:`.onnx_backend`).
``auto``
    torch on a GPU, :data:`AUTO_CPU_BACKEND` on a CPU.

Exported graphs are cached beside the model (``MODEL_DIR/onnx/model-<model_version>.onnx``
and ``...-int8.onnx``, each with a JSON sidecar), or under ``data/cache/onnx/<model_id>/`` when
the model directory is not writable; a retrained or recalibrated model gets a fresh export.

>>> scorer = HypeScorer.from_pretrained()
>>> scorer.use_backend("onnx-int8")      # later scorer.score(...) calls run in ONNX Runtime
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from analyzer.errors import ModelError
from analyzer.scoring.backends.batching import (
    EncodedBatch,
    configure_torch_threads,
    encode_batches,
    physical_cores,
    prefetch,
)
from analyzer.scoring.backends.onnx_backend import (
    ONNX_CACHE_DIR,
    OnnxBackend,
    ensure_onnx_model,
    export_onnx,
    onnx_cache_dir,
    onnx_model_path,
    quantize_onnx,
)
from analyzer.scoring.backends.torch_backend import TorchBackend

if TYPE_CHECKING:  # pragma: no cover
    from analyzer.scoring.protocols import ScorerModel

__all__ = [
    "AUTO_CPU_BACKEND",
    "BACKENDS",
    "EncodedBatch",
    "ONNX_CACHE_DIR",
    "OnnxBackend",
    "TorchBackend",
    "configure_torch_threads",
    "create_backend",
    "encode_batches",
    "ensure_onnx_model",
    "export_onnx",
    "onnx_cache_dir",
    "onnx_model_path",
    "physical_cores",
    "prefetch",
    "quantize_onnx",
    "resolve_backend_name",
]

BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
# The CPU default: the fastest backend whose labels agree with the fp32 torch reference on at
# least 99.5% of (sentence, label) decisions. Measured with benchmarks/bench_scoring.py with the
# shipped e5 model on 2 AVX2 cores (benchmarks/results/scoring.md): onnx has identical labels and
# 1.15x the torch backend's speed; onnx-int8 is 1.1-1.2x onnx, but its agreement ranges from
# 99.7% (news) down to 99.3% (written Japanese).
AUTO_CPU_BACKEND = "onnx"
BACKEND_ENV_VAR = "ANALYZER_BACKEND"


def resolve_backend_name(name: str | None, device: str) -> str:
    """The concrete backend for ``name`` (``auto``/None: torch on CUDA, else the CPU default)."""
    name = (name or os.environ.get(BACKEND_ENV_VAR) or "auto").lower()
    if name not in BACKENDS:
        raise ModelError(f"unknown backend {name!r}; use {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    return "torch" if device.startswith(("cuda", "mps")) else AUTO_CPU_BACKEND


def create_backend(scorer: ScorerModel, name: str | None = "auto", **options: Any) -> Any:
    """A backend for ``scorer``; ``options`` go to the backend (``batch_size``, ``threads``, ...)."""
    resolved = resolve_backend_name(name, scorer.device)
    if resolved == "torch":
        return TorchBackend(scorer, **options)
    options.pop("precision", None)
    return OnnxBackend(scorer, quantized=resolved == "onnx-int8", **options)
