"""The torch backend: the scorer's own modules, fed length-sorted dynamically padded batches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from analyzer.errors import ModelError
from analyzer.scoring.backends.batching import (
    EncodedBatch,
    configure_torch_threads,
    encode_batches,
    prefetch,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from analyzer.scoring.protocols import ScorerModel

CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 256
# On a GPU, texts are tokenized this many batches at a time by the prefetching thread.
GPU_PREFETCH_BATCHES = 8
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class TorchBackend:
    """Logits from the scorer's encoder and head under ``torch.inference_mode``.

    On a CPU: one intra-op thread per physical core and batches of ~32 similar-length
    sentences (little padding, cache-friendly GEMMs). On CUDA: bf16 autocast (fp16 where bf16
    is unsupported), batches of 256, pinned host memory, and tokenization in a worker thread
    that prepares the next batches while the GPU computes.
    """

    name = "torch"

    def __init__(
        self,
        scorer: ScorerModel,
        *,
        batch_size: int | None = None,
        precision: str = "auto",
        threads: int | None = None,
    ):
        self.scorer = scorer
        self.device = scorer.device
        self.on_gpu = self.device.startswith("cuda")
        self.batch_size = int(batch_size or (GPU_BATCH_SIZE if self.on_gpu else CPU_BATCH_SIZE))
        self.precision = resolve_precision(precision, self.device)
        self.threads = None if self.on_gpu else configure_torch_threads(threads)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "device": self.device,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "threads": self.threads,
        }

    def batches(self, texts: Sequence[str]) -> Iterator[EncodedBatch]:
        encoder = self.scorer.encoder
        if self.on_gpu:
            # Tokenizing on the critical path would leave the GPU idle between batches.
            return prefetch(
                encode_batches(
                    encoder.tokenizer,
                    texts,
                    batch_size=self.batch_size,
                    max_length=encoder.max_length,
                    chunk_batches=GPU_PREFETCH_BATCHES,
                ),
                depth=GPU_PREFETCH_BATCHES,
            )
        return encode_batches(
            encoder.tokenizer, texts, batch_size=self.batch_size, max_length=encoder.max_length
        )

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np
        import torch

        out = np.zeros((len(texts), len(self.scorer.labels)), dtype=np.float32)
        if len(texts) == 0:
            return out
        encoder, head = self.scorer.encoder, self.scorer.head
        encoder.model.eval()
        head.eval()
        autocast: Any = contextlib.nullcontext()
        if self.precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            autocast = torch.autocast(device_type="cuda", dtype=dtype)
        with torch.inference_mode(), autocast:
            for batch in self.batches(texts):
                tensors = {
                    "input_ids": torch.from_numpy(batch.input_ids),
                    "attention_mask": torch.from_numpy(batch.attention_mask),
                }
                if self.on_gpu:
                    tensors = {
                        k: v.pin_memory().to(self.device, non_blocking=True)
                        for k, v in tensors.items()
                    }
                elif self.device != "cpu":
                    tensors = {k: v.to(self.device) for k, v in tensors.items()}
                out[batch.indices] = head(encoder.pooled(tensors)).float().cpu().numpy()
        return out


def resolve_precision(precision: str, device: str) -> str:
    """``auto``: bf16 on CUDA devices that support it, else fp16 on CUDA, fp32 elsewhere."""
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    if not device.startswith("cuda"):
        if precision in ("bf16", "fp16"):
            raise ModelError(f"{precision} autocast is only used on CUDA devices")
        return "fp32"
    if precision != "auto":
        return precision
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
