"""Near-duplicate clustering, so a syndicated story counts once in narrative heat.

Documents with their own URL or GUID are stored even when their text equals another's, and
wire copies carry a different headline, byline or footer; both are found here with MinHash over
word 5-gram shingles (character 5-grams for text written without spaces) and a locality
sensitive hash, comparing only documents published within ``window_days`` of one another.

Each document's ``cluster_id`` is set to the id of its cluster's representative: the earliest
published member (lowest id on ties). A lone document is its own representative, so
``cluster_id IS NULL`` means "not clustered yet" and ``cluster_id = id`` means "counts".
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from analyzer.analysis.periods import shift_days
from analyzer.errors import InputError

DEFAULT_WINDOW_DAYS = 7
DEFAULT_SIMILARITY = 0.7  # estimated Jaccard similarity of shingle sets
DEFAULT_NUM_PERM = 128
SHINGLE_SIZE = 5
MAX_SHINGLE_TOKENS = 2000  # syndicated copies share their opening; the tail is often boilerplate

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class ClusterSummary:
    examined: int
    clusters: int
    duplicates: int


def _hash32(data: bytes) -> int:
    # Deterministic across processes (unlike hash()) and much faster than the default SHA-1.
    return zlib.crc32(data)


def shingles(text: str, size: int = SHINGLE_SIZE) -> set[bytes]:
    """Word n-gram shingles of lower-cased text; character n-grams when words are not spaced."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    letters = sum(len(w) for w in words)
    if words and letters / len(words) > 12:  # Japanese, Chinese, Thai: a "word" is a whole clause
        joined = "".join(words)[: MAX_SHINGLE_TOKENS * 2]
        if len(joined) <= size:
            return {joined.encode("utf-8")}
        return {joined[i : i + size].encode("utf-8") for i in range(len(joined) - size + 1)}
    words = words[:MAX_SHINGLE_TOKENS]
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def minhash(text: str, num_perm: int = DEFAULT_NUM_PERM) -> Any:
    from datasketch import MinHash

    signature = MinHash(num_perm=num_perm, hashfunc=_hash32, seed=1)
    items = shingles(text)
    if items:
        signature.update_batch(list(items))
    return signature


class _Clusters:
    """Union-find whose root is always the earliest member (by published date, then id)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.key: dict[int, tuple[str, int]] = {}

    def add(self, doc_id: int, published_at: str) -> None:
        self.parent.setdefault(doc_id, doc_id)
        self.key[doc_id] = (published_at, doc_id)

    def find(self, doc_id: int) -> int:
        root = doc_id
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[doc_id] != root:
            self.parent[doc_id], doc_id = root, self.parent[doc_id]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return
        if self.key[root_b] < self.key[root_a]:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a


@dataclass
class ClusterChanges:
    """What a clustering pass changes: ``merged`` (new root, old root) renames whole clusters
    that began before the examined range; ``assigned`` (root, document) places documents."""

    merged: list[tuple[int, int]]
    assigned: list[tuple[int, int]]
    summary: ClusterSummary


def check_cluster_settings(window_days: int, similarity: float) -> None:
    if window_days < 0:
        raise InputError("window_days must be >= 0")
    if not 0.0 < similarity <= 1.0:
        raise InputError("similarity must be in (0, 1]")


def cluster_rows(
    rows: Iterable[tuple[int, str, int | None, str]],
    published_at: Callable[[int], str | None],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    similarity: float = DEFAULT_SIMILARITY,
    num_perm: int = DEFAULT_NUM_PERM,
) -> ClusterChanges:
    """Cluster ``(id, published_at, cluster_id, text)`` rows given in date order.

    Rows already in a cluster keep it and may pull new members in; ``published_at`` looks up
    the date of a representative that lies before the rows. Only documents within
    ``window_days`` of each other are compared.
    """
    check_cluster_settings(window_days, similarity)
    from datasketch import MinHashLSH

    clusters = _Clusters()
    previous: dict[int, int | None] = {}
    # The LSH only proposes candidates (each is then checked against ``similarity``); a capped
    # threshold keeps its banding valid for strict settings and only adds candidates.
    lsh = MinHashLSH(threshold=min(similarity, 0.9), num_perm=num_perm)
    signatures: dict[int, Any] = {}
    window: deque[tuple[str, int]] = deque()
    examined = 0
    for doc_id, published, cluster_id, text in rows:
        examined += 1
        day = published[:10]
        clusters.add(doc_id, published)
        previous[doc_id] = cluster_id
        if cluster_id is not None and cluster_id != doc_id:
            if cluster_id not in clusters.key:
                clusters.add(cluster_id, published_at(cluster_id) or "")
            clusters.union(doc_id, cluster_id)
        horizon = shift_days(day, -window_days)
        while window and window[0][0] < horizon:
            _, old = window.popleft()
            lsh.remove(old)
            del signatures[old]
        signature = minhash(text, num_perm)
        for candidate in lsh.query(signature):
            if signature.jaccard(signatures[candidate]) >= similarity:
                clusters.union(doc_id, candidate)
        lsh.insert(doc_id, signature)
        signatures[doc_id] = signature
        window.append((day, doc_id))

    assigned = [(clusters.find(d), d) for d, old in previous.items() if clusters.find(d) != old]
    merged = [
        (clusters.find(old_root), old_root)
        for old_root in {c for c in previous.values() if c is not None and c in clusters.parent}
        if clusters.find(old_root) != old_root
    ]
    roots = {clusters.find(d) for d in previous}
    summary = ClusterSummary(
        examined=examined,
        clusters=len(roots),
        duplicates=sum(1 for d in previous if clusters.find(d) != d),
    )
    return ClusterChanges(merged, assigned, summary)
