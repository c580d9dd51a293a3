"""Segment kinds and language routing: what is scored as prose, and in which language.

Scoring tests use the real shipped model (models/hype-default). Tests over ../shared (the
Bitcoin and Solana whitepapers, the founding article, the real financial sentences) skip when it
is absent and read it at run time; nothing of it is copied here.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from analyzer.scoring.language import detect_language, route_language
from analyzer.scoring.scorer import DEFAULT_MODEL_DIR, HypeScorer, aggregate_scores
from analyzer.scoring.segments import aggregate_key, is_prose, segment_kind, segment_kinds
from analyzer.scoring.sentences import split_sentences
from analyzer.storage import DocumentRecord, Store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
BITCOIN = SHARED / "realdata" / "whitepapers" / "bitcoin" / "bitcoincore.org" / "bitcoin.pdf"
SOLANA = SHARED / "realdata" / "whitepapers" / "solana" / "solana-whitepaper-en.pdf"
SEED_DIR = SHARED / "seed"

BODY = [
    "The protocol settles payments in about four seconds on average.",
    "Our token will change finance forever and nothing can stop it!",
    "Revenue rose 12% to $18.1 million in the quarter, the company said.",
]


@pytest.fixture(scope="module")
def scorer() -> HypeScorer:
    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        pytest.skip("the shipped model is not present")
    return HypeScorer.from_pretrained(device="cpu")


def _model_declaring(tmp_path_factory: pytest.TempPathFactory, languages: list[str]) -> Path:
    """The shipped model, declared to handle ``languages`` (the routing API, not quality)."""
    copy = tmp_path_factory.mktemp("-".join(languages)) / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, copy, ignore=shutil.ignore_patterns("onnx"))
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    config["languages"] = languages
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def bilingual_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _model_declaring(tmp_path_factory, ["en", "ja"])


@pytest.fixture(scope="module")
def english_only(tmp_path_factory: pytest.TempPathFactory) -> HypeScorer:
    """A model that declares English only, whatever the shipped model declares."""
    return HypeScorer.from_pretrained(_model_declaring(tmp_path_factory, ["en"]), device="cpu")


# --------------------------------------------------------------------------- kinds, from text alone


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Network Design", "heading"),
        ("A Fast Ledger: Consensus Without Leaders", "heading"),
        ("By Maria Jensen", "byline"),
        ("Figure 3: Throughput by batch size", "caption"),
        ("Block17", "label"),
        ("Node Node ...", "label"),
        ("Tx4 Tx5 Tx6", "label"),
        ("$ 1,204 12.4 %", "numeric"),
        ("k=3 P=0.0412", "numeric"),
        ("∑ x² ≤ n", "formula"),
        ("int main() { return 0; }", "formula"),
        ('[4] A. Author, "A paper on ledgers," 2001.', "reference"),
        ("https://example.com/article/42", "url"),
        ("team@example.org", "url"),
        ("Read more", "boilerplate"),
        ("Share on Facebook", "boilerplate"),
        ("42.7K 人気度", "boilerplate"),
        ("1.2K views", "boilerplate"),
        ("Tweet Share Email", "boilerplate"),
        ("出典:Example News", "byline"),
        ("市場の構造", "heading"),
        ("The plant reached full output on Monday.", "prose"),
        ("An analyst said the firm declined to comment on the report.", "prose"),
        ("Its advertising sales decreased by 8% during the year.", "prose"),
        ("If blocks come every 10 minutes, 80 bytes * 6 * 24 * 365 = 4.2MB per year.", "prose"),
        ("データセンターの電力需要が急増している。", "prose"),
        ("To the moon! 🚀🚀", "prose"),
        ("   ", "empty"),
    ],
)
def test_segment_kind_from_text(text: str, kind: str) -> None:
    assert segment_kind(text) == kind


def test_hints_keep_the_pools_shapes() -> None:
    assert segment_kind("Plant reaches full output", "title") == "headline"
    assert is_prose("headline") and not is_prose("heading")
    assert segment_kind("Short cell", "td") == "table-cell"
    from analyzer.training.pool import sentence_shape

    assert sentence_shape is not None and sentence_shape("Read more") == segment_kind("Read more")


def test_name_under_a_title_is_a_byline_and_a_lone_headline_is_prose() -> None:
    kinds = segment_kinds(["A Fast Ledger for Everyone", "Jane Q. Writer", BODY[0]])
    assert kinds == ["heading", "byline", "prose"]
    # An opening sentence that ends in an emoji is no title.
    assert segment_kinds(["Going to the moon with this token! 🚀", BODY[0]]) == ["prose", "prose"]
    # A record that is only a headline (or a boilerplate line) is read as what it is.
    assert segment_kinds(["Chipmaker Doubles Output in Texas"]) == ["prose"]
    assert segment_kinds(["All rights reserved."]) == ["prose"]
    # ... but bare numbers or an address have nothing to score.
    assert segment_kinds(["12.5 %"]) == ["numeric"]


def test_page_furniture_lines_are_not_joined_into_sentences() -> None:
    text = "データセンターの需要が伸びた。\n42.7K 人気度\n8.1K 人気度\n市場の構造\n電力の価格が上がった。"
    assert split_sentences(text) == [
        "データセンターの需要が伸びた。",
        "42.7K 人気度",
        "8.1K 人気度",
        "市場の構造",
        "電力の価格が上がった。",
    ]


# --------------------------------------------------------------------------- language routing


@pytest.mark.parametrize(
    "text",
    [
        "Tornio Works net sales totalled EUR 12.4 mn in March 2009 , down from EUR 15.1 mn .",
        "Shell to Lay Off Another 2200 Staff",
        "Kone Oyj and Wartsila Oyj shares fell in Helsinki trading",
        "Satoshi Nakamoto",
        "Hash23",
        "UPDATE: Aviva And Friends Life Lead FTSE 100 Gainers",
    ],
)
def test_short_and_name_heavy_english_is_english(text: str) -> None:
    route = route_language(text, ["en"], default="en")
    assert route.language == "en" and route.scorable
    assert route_language(text, ["en"]).scorable  # without a document language as well


def test_other_languages_and_scripts_are_unscored_with_a_reason() -> None:
    french = route_language(
        "Le gouvernement a annoncé mardi une nouvelle taxe sur les transactions financières.",
        ["en"],
    )
    assert french.language == "fr" and french.reason == "no model for fr"
    russian = route_language("Компания сообщила о росте выручки на двенадцать процентов.", ["en"])
    assert russian.language == "ru" and "Cyrillic" in (russian.reason or "")
    thai = route_language("บริษัทรายงานว่ารายได้เพิ่มขึ้นในไตรมาสนี้", ["en"])
    assert not thai.scorable and "Thai" in (thai.reason or "")
    japanese = route_language("データセンターの電力需要が急増している。", ["en"])
    assert japanese.language == "ja" and japanese.reason == "no model for ja"
    # A kanji-only heading in a Japanese document stays Japanese.
    assert route_language("市場構造", ["en"], default="ja").language == "ja"
    # A model that declares Japanese scores it, and English too.
    assert route_language("データセンターの電力需要が急増している。", ["en", "ja"]).scorable
    assert route_language(BODY[0], ["en", "ja"]).scorable
    assert (
        detect_language(
            "Le gouvernement a annoncé mardi une nouvelle taxe sur les transactions financières."
        )
        == "fr"
    )
    assert detect_language("   ") == "und"


# --------------------------------------------------------------------------- documents, scored


def test_non_prose_is_stored_but_not_scored_and_duplicates_count_once(scorer: HypeScorer) -> None:
    page = "\n\n".join(["Network Design", *BODY, "42.7K 人気度", "Read more", *BODY, "Block17"])
    result = scorer.score_document(page)
    kinds = [s["kind"] for s in result["sentences"]]
    assert kinds == [
        "heading",
        "prose",
        "prose",
        "prose",
        "boilerplate",
        "boilerplate",
        "prose",
        "prose",
        "prose",
        "label",
    ]
    assert all(s["hype"] is None for s in result["sentences"] if s["kind"] != "prose")
    assert result["n_sentences"] == 10 and result["n_prose"] == 3 and result["unscored"] is False
    alone = scorer.score_document("\n\n".join(BODY))
    for label in ("hype", "growth", "evidence"):
        for suffix in ("", "_top", "_share"):
            assert result[label + suffix] == pytest.approx(alone[label + suffix], abs=1e-6)
    keys = [aggregate_key(s) for s in BODY]
    assert aggregate_scores(
        [{"hype": 0.9}, {"hype": 0.1}, {"hype": 0.9}], ["hype"], keys=[keys[0], keys[1], keys[0]]
    )["hype"] == pytest.approx(0.5)


def test_empty_and_whitespace_segments_are_never_scored(scorer: HypeScorer) -> None:
    assert scorer.score_document(" \n\n\t \n ")["unscored"] is True
    result = scorer.score_document(f"{BODY[0]}\n\n   \n\n•\n\n{BODY[2]}")
    assert [s["text"] for s in result["sentences"]] == [BODY[0], BODY[2]]
    only_numbers = scorer.score_document("12.5 %")
    assert only_numbers["unscored"] is True and only_numbers["reason"].startswith("no prose")


def test_unsupported_script_document_is_unscored_with_a_reason(scorer: HypeScorer) -> None:
    result = scorer.score_document(
        "Компания сообщила о росте выручки. Акции выросли на пять процентов."
    )
    assert result["unscored"] is True and result["reason"] == "no model for ru (Cyrillic script)"
    assert result["hype"] is None and all(s["hype"] is None for s in result["sentences"])


def test_japanese_routes_to_ja_and_a_model_declaring_ja_scores_it(
    english_only: HypeScorer, bilingual_model: Path
) -> None:
    text = "データセンターの需要が伸びた。\n42.7K 人気度\n電力の価格が上がった。"
    result = english_only.score_document(text)
    assert (
        result["language"] == "ja"
        and result["unscored"] is True
        and result["reason"] == "no model for ja"
    )
    both = HypeScorer.from_pretrained(bilingual_model, device="cpu")
    scored = both.score_document(text)
    assert scored["language"] == "ja" and scored["unscored"] is False and scored["n_prose"] == 2
    assert [s["kind"] for s in scored["sentences"]] == ["prose", "boilerplate", "prose"]
    # An English quote inside a Japanese document is routed on its own: English.
    mixed = english_only.score_document(text + "\n\n" + BODY[0])
    assert mixed["unscored"] is True  # the document is Japanese; no model for it


def test_stored_segments_keep_their_kind(scorer: HypeScorer, tmp_path: Path) -> None:
    from analyzer.pipeline import score_store
    from analyzer.views.documents import document_detail

    db = tmp_path / "kinds.db"
    with Store(db) as store:
        doc = store.upsert_document(
            DocumentRecord(
                text="\n\n".join(["Network Design", *BODY, "Read more"]),
                canonical_url="https://x.test/kinds",
            )
        )
        stats = score_store(store, scorer)
        assert stats["documents"] == 1
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT kind FROM sentences WHERE document_id = ? ORDER BY sentence_index",
            (doc.document_id,),
        ).fetchall()
        scores = conn.execute(
            "SELECT hype, n_sentences FROM scores WHERE document_id = ?", (doc.document_id,)
        ).fetchone()
    assert [r[0] for r in rows] == ["heading", "prose", "prose", "prose", "boilerplate"]
    assert scores[1] == 5 and scores[0] == pytest.approx(
        scorer.score_document("\n\n".join(BODY))["hype"], abs=1e-6
    )
    detail = document_detail(db, doc.document_id, model_version=scorer.model_version)
    assert detail is not None
    sentences = detail["sentences"]
    assert list(sentences["prose"]) == [False, True, True, True, False]
    assert sentences.loc[~sentences["prose"], "hype"].isna().all()


def test_old_databases_get_the_kind_column(tmp_path: Path) -> None:
    from analyzer.storage.schema import MIGRATIONS

    names = [m.__name__ for m in MIGRATIONS]
    assert names[-1] == "_m007_segment_kind"
    with Store(tmp_path / "fresh.db"):
        pass
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        columns = {row[1]: row for row in conn.execute("PRAGMA table_info(sentences)")}
    assert columns["kind"][4] == "'prose'"  # rows from before the migration read as prose


# --------------------------------------------------------------------------- real documents (../shared)


def _pdf_text(path: Path) -> str:
    from analyzer.ingest.articles import extract_pdf

    return extract_pdf(path.read_bytes()).text


@pytest.mark.skipif(not BITCOIN.is_file(), reason="../shared/realdata is absent")
def test_bitcoin_whitepaper_fragments_are_not_prose(scorer: HypeScorer) -> None:
    text = _pdf_text(BITCOIN)
    result = scorer.score_document(text)
    kinds: dict[str, set[str]] = {}
    for sentence in result["sentences"]:
        kinds.setdefault(sentence["text"], set()).add(sentence["kind"])
    title = result["sentences"][0]["text"]
    assert title.startswith("Bitcoin") and kinds[title] == {"heading"}
    for fragment in ("Satoshi Nakamoto", "Hash", "Hash23"):
        assert fragment in kinds and not any(is_prose(k) for k in kinds[fragment]), fragment
    prose = [s for s in result["sentences"] if is_prose(s["kind"])]
    assert all(s["hype"] is not None for s in prose) and len(prose) > 100
    assert result["n_prose"] <= len(prose) < len(result["sentences"])


@pytest.mark.skipif(not SOLANA.is_file(), reason="../shared/realdata is absent")
def test_solana_whitepaper_prose_is_scored_and_fragments_are_not(scorer: HypeScorer) -> None:
    result = scorer.score_document(_pdf_text(SOLANA))
    kinds = [s["kind"] for s in result["sentences"]]
    assert kinds.count("prose") > 100 and len(set(kinds) - {"prose"}) >= 3
    assert result["unscored"] is False and result["language"] == "en"


def _seed_file() -> Path | None:
    files = sorted(SEED_DIR.glob("*.txt")) if SEED_DIR.is_dir() else []
    return files[0] if files else None


@pytest.mark.skipif(_seed_file() is None, reason="../shared/seed is absent")
def test_founding_article_counters_are_furniture_and_its_body_counts_once(
    english_only: HypeScorer, bilingual_model: Path
) -> None:
    seed = _seed_file()
    assert seed is not None
    text = seed.read_text(encoding="utf-8")
    result = english_only.score_document(text)
    assert (
        result["language"] == "ja"
        and result["unscored"] is True
        and result["reason"] == "no model for ja"
    )
    counters = [s for s in result["sentences"] if "人気度" in s["text"]]
    assert counters and all(s["kind"] == "boilerplate" for s in counters)
    both = HypeScorer.from_pretrained(bilingual_model, device="cpu").score_document(text)
    prose = [s for s in both["sentences"] if is_prose(s["kind"])]
    distinct = {aggregate_key(s["text"]): s["hype"] for s in prose}
    assert len(distinct) == both["n_prose"] < len(prose)  # the body is there twice, counted once
    assert both["hype"] == pytest.approx(sum(distinct.values()) / len(distinct), abs=1e-9)


SHARED_LABELED = SHARED / "realdata" / "labeled"


@pytest.mark.skipif(
    not (SHARED_LABELED / "financial_phrasebank").is_dir(), reason="../shared/realdata is absent"
)
def test_real_english_financial_sentences_are_not_lost_to_language_detection(
    scorer: HypeScorer,
) -> None:
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    from bench_language import english_sentences

    sentences = english_sentences(SHARED / "realdata")
    assert len(sentences) > 5000
    lost = [(text, scorer.route_language(text)) for _, _, text in sentences]
    lost = [(text, route) for text, route in lost if not route.scorable]
    # PhraseBank holds a German sentence; that one, and only a genuinely German one, may stay unscored.
    assert len(lost) <= 1
    for text, route in lost:
        assert route.language == "de" and " und " in text
