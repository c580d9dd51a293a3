"""Near-duplicate clustering: syndicated copies count once in narrative heat."""

from __future__ import annotations

import random

import pytest
from analysis_seed import add_document, quarter_starts, story_text

from analyzer.analysis.dedup import minhash, shingles
from analyzer.analysis.run import cluster_documents
from analyzer.errors import InputError
from analyzer.pipeline import compute_divergence
from analyzer.views import results


def _clusters(store) -> dict[int, int]:
    return dict(store.conn.execute("SELECT id, cluster_id FROM documents").fetchall())


def test_shingles_use_words_or_characters() -> None:
    assert b"the quick brown fox jumps" in shingles("The quick brown fox jumps over")
    assert shingles("Too short") == {b"too short"}
    japanese = shingles("人工知能への投資が急増しており市場は過熱している")
    assert japanese and all(len(s.decode("utf-8")) == 5 for s in japanese)
    assert shingles("") == set()


def test_minhash_estimates_similarity() -> None:
    rng = random.Random(1)
    text = story_text(rng, 200)
    copy = "EXCLUSIVE: " + text + " (Reporting by the wire desk; editing by someone)"
    other = story_text(rng, 200)
    assert minhash(text).jaccard(minhash(copy)) > 0.8
    assert minhash(text).jaccard(minhash(other)) < 0.2


def test_syndicated_copies_cluster_and_unrelated_or_distant_ones_do_not(store) -> None:
    rng = random.Random(2)
    wire = story_text(rng, 150, topic="omega")
    original = add_document(store, wire, "2024-03-01T08:00:00Z", source="wire")
    copy_1 = add_document(store, "Omega soars. " + wire, "2024-03-01T12:00:00Z", source="paper-a")
    copy_2 = add_document(
        store, wire + " Copyright paper-b.", "2024-03-04T12:00:00Z", source="paper-b"
    )
    late = add_document(store, wire + " Republished.", "2024-04-20T12:00:00Z", source="paper-c")
    unrelated = add_document(store, story_text(rng, 150), "2024-03-01T09:00:00Z", source="wire")
    summary = cluster_documents(store)
    clusters = _clusters(store)
    assert clusters[original] == clusters[copy_1] == clusters[copy_2] == original
    assert clusters[unrelated] == unrelated
    assert clusters[late] == late  # outside the 7-day window: a new story
    assert summary.duplicates == 2 and summary.clusters == 3 and summary.examined == 5


def test_clustering_is_incremental_and_an_earlier_copy_becomes_representative(store) -> None:
    rng = random.Random(3)
    wire = story_text(rng, 120)
    first = add_document(store, wire, "2024-05-02T00:00:00Z")
    second = add_document(store, wire + " more", "2024-05-03T00:00:00Z")
    cluster_documents(store)
    assert _clusters(store)[second] == first
    assert cluster_documents(store).examined == 0  # nothing new: nothing hashed
    earlier = add_document(store, "Breaking: " + wire, "2024-05-01T00:00:00Z")
    cluster_documents(store)
    clusters = _clusters(store)
    assert clusters[first] == clusters[second] == clusters[earlier] == earlier


def test_recluster_with_a_stricter_similarity_splits_clusters(store) -> None:
    rng = random.Random(4)
    wire = story_text(rng, 40)
    a = add_document(store, wire, "2024-05-02T00:00:00Z")
    b = add_document(store, wire + " " + story_text(rng, 8), "2024-05-02T01:00:00Z")
    cluster_documents(store, similarity=0.6)
    assert _clusters(store)[b] == a
    cluster_documents(store, similarity=0.99, recluster=True)
    assert _clusters(store)[b] == b
    with pytest.raises(InputError):
        cluster_documents(store, similarity=0.0)


def test_duplicated_stories_do_not_inflate_heat(store) -> None:
    """Two entities with the same stories; one's are syndicated five times. Same heat."""
    rng = random.Random(5)
    quarters = quarter_starts(2022, 8)
    plan = [1, 1, 1, 2, 3, 4, 5, 6]
    for quarter, count in zip(quarters, plan):
        day = quarter.replace(day=12)
        for i in range(count):
            body = story_text(rng, 120)
            add_document(
                store,
                "Plain " + body,
                f"{day.isoformat()}T0{i}:00:00Z",
                source="wire",
                entities=["plain"],
                hype=0.4,
            )
            syndicated = story_text(rng, 120)
            for copy in range(5):
                add_document(
                    store,
                    f"Copy {copy}: {syndicated} Distributed by outlet {copy}.",
                    f"{day.isoformat()}T1{i}:0{copy}:00Z",
                    source="wire" if copy == 0 else f"outlet-{copy}",
                    entities=["syndicated"],
                    hype=0.4,
                )
        for i in range(6):
            add_document(
                store, story_text(rng, 120), f"{day.isoformat()}T20:0{i}:00Z", source="wire"
            )
    compute_divergence(store, freq="quarter")
    heat = results.heat_frame(store).set_index(["entity", "period"])
    plain = heat.loc["plain"]
    syndicated = heat.loc["syndicated"]
    assert syndicated["stories"].tolist() == plan
    assert syndicated["documents"].tolist() == [5 * n for n in plan]
    assert syndicated["heat"].round(9).tolist() == plain["heat"].round(9).tolist()
    assert syndicated["volume_index"].round(9).tolist() == plain["volume_index"].round(9).tolist()

    # Without clustering the copies would count five times over.
    store.conn.execute("UPDATE documents SET cluster_id = NULL")
    compute_divergence(store, freq="quarter", cluster=False)
    inflated = results.heat_frame(store, "syndicated")
    assert inflated["stories"].tolist() == [5 * n for n in plan]
