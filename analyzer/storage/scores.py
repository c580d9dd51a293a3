"""Scores per model version: documents, sentences, and the sentence-score cache.

Every version's scores stay stored side by side, so a new model never erases an old one's.
The cache is keyed by :func:`analyzer.storage.base.content_hash` of the sentence and the
model version, the same key every in-memory cache uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from analyzer.storage.base import StorageError, StoreBase, content_hash, utcnow


class ScoreTables(StoreBase):
    """Reads and writes of document scores, sentence scores and the score cache."""

    def count_documents_to_score(self, model_version: str) -> int:
        return int(
            self._scalar(
                "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS"
                " (SELECT 1 FROM scores s WHERE s.document_id = d.id AND s.model_version = ?)",
                (model_version,),
            )
        )

    # ----------------------------------------------------------------- scores
    def documents_to_score(
        self, model_version: str, batch_size: int = 256
    ) -> Iterator[dict[str, Any]]:
        """Documents with no score from ``model_version`` yet, streamed in id order."""
        yield from self.iter_documents(
            where="NOT EXISTS (SELECT 1 FROM scores s WHERE s.document_id = documents.id"
            " AND s.model_version = ?)",
            params=(model_version,),
            batch_size=batch_size,
        )

    def cached_sentence_scores(
        self, text_hashes: Sequence[str], model_version: str
    ) -> dict[str, tuple[float, float, float]]:
        found: dict[str, tuple[float, float, float]] = {}
        unique = list(dict.fromkeys(text_hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT text_hash, hype, growth, evidence FROM score_cache"
                f" WHERE model_version = ? AND text_hash IN ({marks})",
                (model_version, *chunk),
            ):
                found[row[0]] = (row[1], row[2], row[3])
        return found

    def save_document_scores(
        self,
        document_id: int,
        *,
        model_id: str,
        model_version: str,
        document_scores: dict[str, Any],
        sentences: Sequence[str],
        sentence_scores: Sequence[dict[str, float | None]],
        kinds: Sequence[str] | None = None,
    ) -> None:
        """Store a document's sentences and all its scores for one model version, atomically.

        ``document_scores`` holds hype/growth/evidence (means), optional ``*_top`` and ``*_share``,
        ``n_sentences``, ``language`` and ``unscored``. ``kinds``: each sentence's segment kind
        (default ``prose``); a non-prose segment is stored with ``None`` scores.
        """
        if len(sentences) != len(sentence_scores):
            raise StorageError("sentences and sentence_scores differ in length")
        kinds = list(kinds) if kinds is not None else ["prose"] * len(sentences)
        if len(kinds) != len(sentences):
            raise StorageError("sentences and kinds differ in length")
        hashes = [content_hash(s) for s in sentences]
        with self.transaction():
            # Sentences past this version's list stay while another version's scores refer to them.
            self.conn.execute(
                "DELETE FROM sentences WHERE document_id = ? AND sentence_index >= ? AND NOT EXISTS"
                " (SELECT 1 FROM sentence_scores ss WHERE ss.document_id = sentences.document_id"
                " AND ss.sentence_index = sentences.sentence_index AND ss.model_version != ?)",
                (document_id, len(sentences), model_version),
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO sentences (document_id, sentence_index, text, text_hash, kind)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (document_id, i, s, h, k)
                    for i, (s, h, k) in enumerate(zip(sentences, hashes, kinds))
                ],
            )
            self.conn.execute(
                "DELETE FROM sentence_scores WHERE document_id = ? AND model_version = ?",
                (document_id, model_version),
            )
            self.conn.executemany(
                "INSERT INTO sentence_scores (document_id, sentence_index, model_id, model_version,"
                " hype, growth, evidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        document_id,
                        i,
                        model_id,
                        model_version,
                        s.get("hype"),
                        s.get("growth"),
                        s.get("evidence"),
                    )
                    for i, s in enumerate(sentence_scores)
                ],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO score_cache (text_hash, model_version, hype, growth, evidence)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (h, model_version, s["hype"], s["growth"], s["evidence"])
                    for h, s in zip(hashes, sentence_scores)
                    if s.get("hype") is not None
                ],
            )
            d = document_scores
            self.conn.execute(
                "INSERT OR REPLACE INTO scores (document_id, model_id, model_version, hype, growth, evidence,"
                " hype_top, growth_top, evidence_top, hype_share, growth_share, evidence_share,"
                " n_sentences, language, unscored, scored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    document_id,
                    model_id,
                    model_version,
                    d.get("hype"),
                    d.get("growth"),
                    d.get("evidence"),
                    d.get("hype_top"),
                    d.get("growth_top"),
                    d.get("evidence_top"),
                    d.get("hype_share"),
                    d.get("growth_share"),
                    d.get("evidence_share"),
                    int(d.get("n_sentences") or len(sentences)),
                    d.get("language"),
                    int(bool(d.get("unscored"))),
                    utcnow(),
                ),
            )

    def model_versions(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT model_id, model_version, COUNT(*) AS documents, MAX(scored_at) AS last_scored"
            " FROM scores GROUP BY model_id, model_version ORDER BY last_scored DESC"
        )

    def latest_model_version(self) -> str | None:
        row = self.conn.execute(
            "SELECT model_version FROM scores ORDER BY scored_at DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def sentence_cache(self, model_version: str) -> StoreSentenceCache:
        """The database's score cache for one model version, as a scorer cache."""
        return StoreSentenceCache(self, model_version)


class StoreSentenceCache:
    """A scorer cache backed by the ``score_cache`` table, with an in-run memory layer.

    Entries computed in this run are kept in memory until their documents are saved, because
    the table is written together with each document's scores, in the same transaction.
    """

    def __init__(self, store: ScoreTables, model_version: str) -> None:
        self.store = store
        self.model_version = model_version
        self._pending: dict[str, tuple[float, ...]] = {}

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[float, ...]]:
        found = {k: self._pending[k] for k in keys if k in self._pending}
        missing = [k for k in keys if k not in found]
        if missing:
            found.update(self.store.cached_sentence_scores(missing, self.model_version))
        return found

    def put_many(self, items: Mapping[str, tuple[float, ...]]) -> None:
        self._pending.update(items)

    def flush(self) -> None:
        """Forget what the saved documents now hold in the table."""
        self._pending.clear()
