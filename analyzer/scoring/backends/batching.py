"""Threads, tokenization and batching shared by the backends."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


# --------------------------------------------------------------------------- threads


def physical_cores() -> int:
    """Physical CPU cores available to this process (hyper-threads do not help GEMMs)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    siblings = _threads_per_core()
    return max(1, available // siblings)


def _threads_per_core() -> int:
    path = Path("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
    try:
        text = path.read_text().strip()
    except OSError:
        return 1
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        count += (int(high) - int(low) + 1) if high else 1
    return max(1, count)


def configure_torch_threads(threads: int | None = None) -> int:
    """Use one intra-op thread per physical core (more only adds contention); returns the count."""
    import torch

    threads = threads or physical_cores()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


# --------------------------------------------------------------------------- tokenization


@dataclass
class EncodedBatch:
    """One padded batch: row ``k`` holds ``texts[indices[k]]``."""

    indices: np.ndarray
    input_ids: np.ndarray
    attention_mask: np.ndarray

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())


def encode_batches(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int,
    max_length: int,
    chunk_batches: int | None = None,
) -> Iterator[EncodedBatch]:
    """Length-sorted, dynamically padded batches (longest first).

    Texts are tokenized in one pass without padding, sorted by token count and padded only to
    the longest text of each batch. With ``chunk_batches`` the texts are first ordered by
    character length and tokenized ``chunk_batches * batch_size`` at a time, so the first
    batch is ready early (the GPU path tokenizes in a worker thread while the GPU computes).
    """
    import numpy as np

    if batch_size < 1:
        raise InputError("batch_size must be at least 1")
    n = len(texts)
    if n == 0:
        return
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if chunk_batches:
        by_chars = sorted(range(n), key=lambda i: (-len(texts[i]), i))
        step = chunk_batches * batch_size
        groups = [by_chars[start : start + step] for start in range(0, n, step)]
    else:
        groups = [list(range(n))]
    for group in groups:
        ids = tokenizer(
            [texts[i] for i in group],
            truncation=True,
            max_length=max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        order = sorted(range(len(group)), key=lambda k: (-len(ids[k]), group[k]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = len(ids[rows[0]])
            input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, k in enumerate(rows):
                length = len(ids[k])
                input_ids[r, :length] = ids[k]
                mask[r, :length] = 1
            yield EncodedBatch(
                np.asarray([group[k] for k in rows], dtype=np.int64), input_ids, mask
            )


def prefetch(iterator: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run ``iterator`` in a worker thread, keeping up to ``depth`` items ready."""
    done = object()
    items: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put(_Failure(exc))

    worker = threading.Thread(target=work, name="analyzer-tokenize", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()


@dataclass
class _Failure:
    error: BaseException
