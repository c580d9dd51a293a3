"""Frozen-encoder embeddings cached on disk, so repeated head training does not re-encode.

Training a head on a frozen encoder spends nearly all its time embedding the sentences.
The embeddings depend only on the base weights (their fingerprint), the pooled layers, the
token limit and the texts, so they are stored under the user's cache directory
(``embeddings/<key>.npy``) with that key; any change to one of these gives a new key.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analyzer.scoring.packaged_e5 import user_cache_dir


def embedding_key(identity: dict[str, Any], texts: Sequence[str]) -> str:
    """A stable key for ``texts`` embedded by the encoder ``identity`` describes."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode("utf-8"))
    for text in texts:
        digest.update(b"\x00")
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()[:32]


def encoder_identity(encoder: Any, fingerprint: str | None, base: str) -> dict[str, Any]:
    """What the embeddings of a :class:`SentenceEncoder` depend on (besides the texts)."""
    return {
        "base": base,
        "fingerprint": fingerprint,
        "layers": list(encoder.layers),
        "max_length": int(encoder.max_length),
        "pooling": "mean-l2",
    }


def cached_embed(
    embed: Any,
    texts: Sequence[str],
    identity: dict[str, Any] | None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """``embed(texts)`` as a float32 torch tensor, read from or written to the cache.

    Without an ``identity`` (or with no fingerprint to trust), nothing is cached.
    """
    import numpy as np
    import torch

    if identity is None or identity.get("fingerprint") is None:
        return embed(texts)
    root = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "embeddings"
    path = root / f"{embedding_key(identity, texts)}.npy"
    if path.is_file():
        try:
            array = np.load(path, allow_pickle=False)
            if array.shape[0] == len(texts):
                return torch.from_numpy(array)
        except (OSError, ValueError):
            pass
    result = embed(texts)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, suffix=".npy.tmp", delete=False) as handle:
            np.save(handle, result.numpy().astype(np.float32), allow_pickle=False)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only cache only costs time
    return result
