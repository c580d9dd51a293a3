"""Entity definitions, alias/ticker matching with exclusions, tagging stored documents, embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer import pipeline
from analyzer.cli import app
from analyzer.entities.definitions import Entity, load_entities_file, parse_entities_yaml
from analyzer.entities.matching import EmbeddingMatcher, match_entities, split_sentences
from analyzer.errors import InputError
from analyzer.storage import DocumentRecord

PROJECT_ROOT = Path(__file__).resolve().parent.parent

RENDER = Entity(
    id="render",
    name="Render Network",
    kind="token",
    aliases=("Render Network", "Render"),
    exclusions=("render farm", "to render", "/\\bRender(?:s|ed|ing)? (?:the|a|an|it)\\b/"),
    tickers=("RENDER", "RNDR"),
)
GRIDCO = Entity(
    id="gridco",
    name="Gridco",
    kind="company",
    aliases=("Gridco", "Gridco Systems"),
    tickers=("GRDC",),
)
KV = Entity(id="kv", name="KV", kind="company", aliases=("KV",), tickers=("KV",))


def found(text: str, *entities: Entity) -> list[tuple[str, str, str]]:
    return [
        (m.entity_id, m.method, m.text) for m in match_entities(text, entities or (RENDER, GRIDCO))
    ]


# --------------------------------------------------------------------------- matching


def test_render_token_versus_the_verb():
    assert found("Render Network paid node operators; RENDER rose 8%.") == [
        ("render", "alias", "Render Network"),
        ("render", "ticker", "RENDER"),
    ]
    assert (
        found("Studios render scenes overnight.") == []
    )  # lowercase verb: alias is case-sensitive
    assert found("Render the scene before the deadline.") == []  # exclusion regex
    assert found("We hired a render farm. Render farm prices fell.") == []
    assert found("It is hard to render this in real time.") == []
    assert found("Render, the GPU network, grew.") == [("render", "alias", "Render")]


def test_exclusion_only_vetoes_the_mention_it_touches():
    text = "Render farm capacity is scarce, so Render tokens rallied."
    assert found(text) == [("render", "alias", "Render")]
    assert match_entities(text, [RENDER])[0].start == text.index("Render tokens")


def test_tickers_cashtags_and_bare_capitals():
    assert found("Holders of $rndr and RNDR were happy.") == [
        ("render", "ticker", "$rndr"),
        ("render", "ticker", "RNDR"),
    ]
    assert found("rndr is not a ticker in lowercase") == []
    assert found("GRDC (NYSE:GRDC) and XGRDC") == [
        ("gridco", "ticker", "GRDC"),
        ("gridco", "ticker", "GRDC"),
    ]
    # Two-letter tickers only match as cashtags; the acronym alias still matches as written.
    assert found("KV and $kv, but not kv", KV) == [("kv", "alias", "KV"), ("kv", "ticker", "$kv")]


def test_aliases_word_boundaries_case_and_longest_mention():
    assert found("gridco shares; GRIDCO; Gridcos; Gridco's plan") == [
        ("gridco", "alias", "gridco"),
        ("gridco", "alias", "GRIDCO"),
        ("gridco", "alias", "Gridco"),
    ]
    assert found("Gridco  Systems signed") == [("gridco", "alias", "Gridco  Systems")]


def test_match_entities_accepts_stored_rows():
    row = {
        "id": "gridco",
        "name": "Gridco",
        "aliases": ["Gridco"],
        "tickers": ["$grdc"],
        "exclusions": [],
    }
    assert [m.method for m in match_entities("Gridco and GRDC", [row])] == ["alias", "ticker"]


def test_sentence_split_fallback_or_shared():
    assert split_sentences("First one. Second one! Third?") == [
        "First one.",
        "Second one!",
        "Third?",
    ]


# --------------------------------------------------------------------------- loading


def test_default_entities_file_loads():
    entities = {e.id: e for e in load_entities_file(PROJECT_ROOT / "entities.yaml")}
    for expected in (
        "nvidia",
        "amd",
        "tsmc",
        "render",
        "akash",
        "bittensor",
        "aave",
        "depin",
        "defi",
    ):
        assert expected in entities
    assert entities["nvidia"].sec_cik == "0001045810"
    assert entities["amd"].sec_cik == "0000002488"
    assert entities["render"].coingecko_id == "render-token"
    assert {e.kind for e in entities.values()} == {"company", "token", "protocol", "theme"}
    assert all(e.description for e in entities.values())


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "entities:\n  - id: a\n    name: A\n    kind: coin\n",
            r"line 4: entity 'a' field 'kind': must be one of",
        ),
        (
            "entities:\n  - id: a\n    name: A\n  - id: a\n    name: B\n",
            r"line 4: .*duplicate id \(first defined on line 2\)",
        ),
        ("entities:\n  - id: Bad Id\n    name: A\n", r"line 2: .*field 'id'"),
        (
            "entities:\n  - id: a\n    name: A\n    alias: [x]\n",
            r"line 4: .*unknown field\(s\) alias",
        ),
        (
            "entities:\n  - id: a\n    name: A\n    aliases: [render]\n",
            r"line 4: .*'render' is an everyday word",
        ),
        (
            "entities:\n  - id: a\n    name: A\n    exclusions: ['/(unclosed/']\n",
            r"line 4: .*not a valid regular expression",
        ),
        ("entities:\n  - id: a\n    name: A\n    sec_cik: NVDA\n", r"line 4: .*field 'sec_cik'"),
        (
            "entities:\n  - id: a\n    name: A\n    tickers: ['BAD TICKER']\n",
            r"line 4: .*field 'tickers'",
        ),
        ("entities:\n  - id: a\n   name: [\n", r"line \d+: not valid YAML"),
        ("things: []\n", r"top-level 'entities:' list"),
        ("entities:\n  - name: A\n", r"line 2: entity #1 field 'id'"),
    ],
)
def test_bad_entities_file_names_line_and_field(body, message):
    with pytest.raises(InputError, match=message):
        parse_entities_yaml(body, origin="entities.yaml")


def test_unquoted_cik_keeps_its_digits():
    # YAML 1.1 would read 0000002488 as an octal number.
    entities = parse_entities_yaml(
        "entities:\n  - id: chipco\n    name: Chipco\n    sec_cik: 0000002488\n"
    )
    assert entities[0].sec_cik == "0000002488"


# --------------------------------------------------------------------------- tagging stored documents

ARTICLE = (
    "Gridco Systems expands its grid business. "
    "Analysts said demand is strong. "
    "Meanwhile, studios still render the scene on a render farm. "
    "Render Network usage doubled this quarter, and RNDR rallied."
)


def test_tag_entities_stores_method_matched_text_and_sentences(store):
    document_id = store.upsert_document(
        DocumentRecord(text=ARTICLE, title="Grid news", url="https://example.org/a")
    ).document_id
    report = pipeline.tag_entities(store, [RENDER, GRIDCO])
    assert report.tagged_documents == 1 and report.tags == 2
    links = {
        r["entity_id"]: r
        for r in store.query(
            "SELECT * FROM document_entities WHERE document_id = ?", (document_id,)
        )
    }
    assert links["gridco"]["method"] == "alias" and links["gridco"]["matched"] == "Gridco Systems"
    assert links["render"]["matched"] == "Render Network"
    sentences = split_sentences(ARTICLE)
    indices = {r["entity_id"]: [] for r in store.query("SELECT entity_id FROM sentence_entities")}
    for row in store.query(
        "SELECT entity_id, sentence_index FROM sentence_entities ORDER BY sentence_index"
    ):
        indices[row["entity_id"]].append(row["sentence_index"])
    assert [sentences[i] for i in indices["render"]] == [sentences[3]]
    assert "render farm" not in " ".join(sentences[i] for i in indices["render"])
    assert indices["gridco"] == [0]
    counts = {e["id"]: e["documents"] for e in store.entities()}
    assert counts["render"] == 1 and counts["gridco"] == 1


def test_retagging_drops_stale_tags_and_keeps_explicit_links(store):
    first = store.upsert_document(
        DocumentRecord(
            text="Gridco wins a contract.", url="https://example.org/1", entities=["render"]
        )
    ).document_id
    pipeline.tag_entities(store, [RENDER, GRIDCO])
    assert {r["entity_id"] for r in store.query("SELECT entity_id FROM document_entities")} == {
        "gridco",
        "render",
    }
    # The alias is removed from the definition: the alias tag goes, the explicit link stays.
    narrowed = Entity(id="gridco", name="Gridco", aliases=("Gridco Systems",))
    pipeline.tag_entities(store, [RENDER, narrowed])
    rows = store.query(
        "SELECT entity_id, method FROM document_entities WHERE document_id = ?", (first,)
    )
    assert rows == [{"entity_id": "render", "method": "explicit"}]


def test_explicit_link_gains_matched_text_without_losing_its_method(store):
    document_id = store.upsert_document(
        DocumentRecord(
            text="Filing notes. Gridco grew.", url="https://example.org/2", entities=["gridco"]
        )
    ).document_id
    pipeline.tag_entities(store, [GRIDCO])
    row = store.query(
        "SELECT method, matched FROM document_entities WHERE document_id = ?", (document_id,)
    )[0]
    assert row == {"method": "explicit", "matched": "Gridco"}
    assert store.query("SELECT sentence_index FROM sentence_entities") == [{"sentence_index": 1}]


def test_sentence_indices_follow_stored_sentences(store):
    text = "Intro line without names\n\nGridco grew. RNDR fell."
    document_id = store.upsert_document(
        DocumentRecord(text=text, url="https://example.org/s")
    ).document_id
    # The scoring stage stored its own sentence order; tags must point into that order.
    stored = ["Intro line without names", "Gridco grew. RNDR fell."]
    store.save_document_scores(
        document_id,
        model_id="m",
        model_version="v",
        document_scores={},
        sentences=stored,
        sentence_scores=[{"hype": 0.1, "growth": 0.1, "evidence": 0.1}] * 2,
    )
    pipeline.tag_entities(store, [RENDER, GRIDCO])
    rows = store.query("SELECT entity_id, sentence_index FROM sentence_entities ORDER BY entity_id")
    assert rows == [
        {"entity_id": "gridco", "sentence_index": 1},
        {"entity_id": "render", "sentence_index": 1},
    ]


def test_cli_entities_loads_tags_and_lists_counts(tmp_path):
    db = tmp_path / "cli.db"
    yaml_path = tmp_path / "entities.yaml"
    yaml_path.write_text(
        "entities:\n"
        "  - id: gridco\n    name: Gridco\n    kind: company\n    aliases: [Gridco]\n    tickers: [GRDC]\n"
        "  - id: quietco\n    name: Quietco\n    kind: company\n    aliases: [Quietco]\n",
        encoding="utf-8",
    )
    from analyzer.storage import Store

    with Store(db) as store:
        store.upsert_document(
            DocumentRecord(text="Gridco raised prices.", url="https://example.org/g")
        )
    result = CliRunner().invoke(
        app, ["entities", "--db", str(db), "--file", str(yaml_path), "--tag", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["loaded"] == 2
    assert {e["id"]: e["documents"] for e in payload["entities"]} == {"gridco": 1, "quietco": 0}

    yaml_path.write_text("entities:\n  - id: gridco\n    kind: company\n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["entities", "--db", str(db), "--file", str(yaml_path)])
    assert bad.exit_code != 0


# --------------------------------------------------------------------------- embeddings


@pytest.mark.slow
def test_embedding_similarity_with_packaged_encoder(store, packaged_encoder_path):
    grid_theme = Entity(
        id="ai-data-centers",
        name="AI data centers",
        description=(
            "Building and powering data centers for artificial intelligence: GPU clusters, gigawatts"
            " of electricity, cooling, and hyperscale capacity for training AI models."
        ),
    )
    wireless = Entity(
        id="depin",
        name="DePIN",
        description=(
            "Decentralised physical infrastructure networks: token rewards for people who deploy"
            " wireless hotspots, storage drives or sensors."
        ),
    )
    texts = {
        "power": "The cloud company signed a deal for two gigawatts of power to feed new GPU server halls"
        " where it trains large models.",
        "cooking": "Simmer the tomatoes with garlic and basil for twenty minutes before adding the pasta.",
        "hotspots": "Operators earn tokens for installing wireless hotspots that extend coverage across the city.",
    }
    matcher = EmbeddingMatcher(model_path=packaged_encoder_path).fit([grid_theme, wireless])
    scores = matcher.similarities(list(texts.values()))
    power, cooking, hotspots = scores
    assert power[0] > power[1] and hotspots[1] > hotspots[0]
    assert max(cooking) < min(power[0], hotspots[1])

    ids = {
        key: store.upsert_document(
            DocumentRecord(text=text, url=f"https://example.org/{key}")
        ).document_id
        for key, text in texts.items()
    }
    threshold = float((max(cooking) + min(power[0], hotspots[1])) / 2)
    pipeline.tag_entities(
        store,
        [grid_theme, wireless],
        embeddings=True,
        threshold=threshold,
        model_path=packaged_encoder_path,
    )
    rows = store.query(
        "SELECT document_id, entity_id, method, score FROM document_entities ORDER BY document_id"
    )
    tagged = {(r["document_id"], r["entity_id"]) for r in rows}
    assert (ids["power"], "ai-data-centers") in tagged
    assert (ids["hotspots"], "depin") in tagged
    assert not any(document_id == ids["cooking"] for document_id, _ in tagged)
    assert {r["method"] for r in rows} == {"embedding"}
    assert all(r["score"] >= threshold for r in rows)
