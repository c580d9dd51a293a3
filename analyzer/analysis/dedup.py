"""Near-duplicate clustering, so a syndicated story counts once in narrative heat.

Exact copies never reach the database twice (the store deduplicates on content hash). Wire
copies with a different headline, byline or footer do; they are found here with MinHash over
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


def cluster_documents(
    store: Any,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    similarity: float = DEFAULT_SIMILARITY,
    num_perm: int = DEFAULT_NUM_PERM,
    recluster: bool = False,
) -> ClusterSummary:
    """Assign ``documents.cluster_id`` for dated documents not clustered yet (all with ``recluster``).

    Work is incremental: only documents from ``window_days`` before the earliest unclustered
    one onward are hashed; earlier clusters keep their ids and may gain members.
    """
    if window_days < 0:
        raise InputError("window_days must be >= 0")
    if not 0.0 < similarity <= 1.0:
        raise InputError("similarity must be in (0, 1]")
    from datasketch import MinHashLSH

    conn = store.conn
    if recluster:
        with store.transaction():
            conn.execute("UPDATE documents SET cluster_id = NULL WHERE cluster_id IS NOT NULL")
    first = conn.execute(
        "SELECT MIN(published_at) FROM documents WHERE cluster_id IS NULL AND published_at IS NOT NULL"
    ).fetchone()[0]
    if first is None:
        return ClusterSummary(examined=0, clusters=0, duplicates=0)
    lower = shift_days(first[:10], -window_days)

    clusters = _Clusters()
    previous: dict[int, int | None] = {}
    # The LSH only proposes candidates (each is then checked against ``similarity``); a capped
    # threshold keeps its banding valid for strict settings and only adds candidates.
    lsh = MinHashLSH(threshold=min(similarity, 0.9), num_perm=num_perm)
    signatures: dict[int, Any] = {}
    window: deque[tuple[str, int]] = deque()
    examined = 0
    cursor = conn.execute(
        "SELECT id, published_at, cluster_id, text FROM documents"
        " WHERE published_at IS NOT NULL AND published_at >= ? ORDER BY published_at, id",
        (lower,),
    )
    while True:
        batch = cursor.fetchmany(500)
        if not batch:
            break
        for doc_id, published_at, cluster_id, text in batch:
            examined += 1
            day = published_at[:10]
            clusters.add(doc_id, published_at)
            previous[doc_id] = cluster_id
            if cluster_id is not None and cluster_id != doc_id:
                if cluster_id not in clusters.key:
                    clusters.add(cluster_id, _published(conn, cluster_id) or "")
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

    updates = [
        (clusters.find(doc_id), doc_id)
        for doc_id, old in previous.items()
        if clusters.find(doc_id) != old
    ]
    # Clusters that started before the examined range and were merged into another one.
    moved = [
        (clusters.find(old_root), old_root)
        for old_root in {c for c in previous.values() if c is not None and c in clusters.parent}
        if clusters.find(old_root) != old_root
    ]
    with store.transaction():
        conn.executemany("UPDATE documents SET cluster_id = ? WHERE cluster_id = ?", moved)
        conn.executemany("UPDATE documents SET cluster_id = ? WHERE id = ?", updates)
    roots = {clusters.find(doc_id) for doc_id in previous}
    return ClusterSummary(
        examined=examined,
        clusters=len(roots),
        duplicates=sum(1 for doc_id in previous if clusters.find(doc_id) != doc_id),
    )


def _published(conn: Any, doc_id: int) -> str | None:
    row = conn.execute("SELECT published_at FROM documents WHERE id = ?", (doc_id,)).fetchone()
    return row[0] if row else None
