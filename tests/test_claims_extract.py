"""Claim extraction by rules: fields on sentences written for these tests, English and Japanese."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analyzer.claims.extract import (
    CLAIM_COLUMNS,
    SentenceContext,
    claims_in_text,
    extract_claims,
    extract_sentence,
)
from analyzer.errors import InputError

PUBLISHED = date(2023, 6, 14)


def claim(text: str, published: date = PUBLISHED, **context: object) -> dict:
    found = extract_sentence(
        text, SentenceContext(published=published, entities=["acme"], **context)
    )  # type: ignore[arg-type]
    assert len(found) == 1, f"no claim found in {text!r}"
    return found[0]


def no_claim(text: str, published: date = PUBLISHED) -> None:
    assert extract_sentence(text, SentenceContext(published=published)) == [], text


def test_multiplier_with_a_year_horizon() -> None:
    c = claim("Acme expects its revenue to triple by 2026.")
    assert (c["metric"], c["magnitude_kind"], c["magnitude_value"], c["claimed_change"]) == (
        "revenue",
        "multiplier",
        3.0,
        3.0,
    )
    assert c["horizon"] == "2026-12-31" and c["horizon_kind"] == "year"
    assert c["hedge"] == "expected" and c["direction"] == "up"
    assert c["entity_id"] == "acme" and c["entity_source"] == "sentence"


def test_absolute_market_size_in_dollars() -> None:
    c = claim("Analysts say the addressable market could reach a $1 trillion market by 2030.")
    assert c["magnitude_kind"] == "absolute"
    assert c["magnitude_value"] == pytest.approx(1e12)
    assert c["currency"] == "USD" and c["metric"] == "other"
    assert c["hedge"] == "possible" and c["speaker"] == "analyst"
    assert c["claimed_change"] is None  # needs a baseline, found at check time


def test_thousand_x_without_a_horizon_is_a_claim_with_the_reason_recorded() -> None:
    c = claim("Holders say the token could go 1000x from here.")
    assert c["magnitude_value"] == 1000.0 and c["metric"] == "price"
    assert c["horizon"] is None and c["horizon_error"] == "no horizon stated"


def test_capacity_in_gigawatts_next_year() -> None:
    c = claim("The utility will bring 10 GW of capacity online next year.")
    assert (c["metric"], c["magnitude_unit"], c["magnitude_value"]) == ("capacity", "GW", 10.0)
    assert c["horizon"] == "2024-12-31" and c["hedge"] == "firm"


def test_megawatts_are_converted_to_gigawatts() -> None:
    c = claim("The first 300 megawatts are scheduled to come online in 2026.")
    assert c["magnitude_unit"] == "GW" and c["magnitude_value"] == pytest.approx(0.3)


def test_percentage_change_with_explicit_target_and_relative_horizon() -> None:
    c = claim("We expect sales to grow 40% within two years, the chief executive said.")
    assert (c["magnitude_kind"], c["claimed_change"]) == ("percent", pytest.approx(1.4))
    assert c["horizon"] == "2025-06-14" and c["horizon_kind"] == "relative"
    assert c["speaker"] == "company"


def test_annual_rate_compounds_to_the_horizon() -> None:
    c = claim("Forecasters project the market will grow 20% a year through 2030.")
    assert c["per_year"] is True
    years = (date(2030, 12, 31) - PUBLISHED).days / 365.25
    assert c["claimed_change"] == pytest.approx(1.2**years)


def test_decline_is_a_change_downwards() -> None:
    c = claim("Management aims to cut costs by 30% by the end of 2025.")
    assert c["direction"] == "down" and c["claimed_change"] == pytest.approx(0.7)
    assert c["hedge"] == "aspirational"


def test_from_to_gives_an_explicit_baseline() -> None:
    c = claim("The protocol plans to grow fees from $2 million to $10 million by mid-2025.")
    assert c["metric"] == "fees" and c["baseline_value"] == pytest.approx(2e6)
    assert c["magnitude_value"] == pytest.approx(1e7) and c["claimed_change"] == pytest.approx(5.0)
    assert c["horizon"] == "2025-06-30"


def test_abbreviated_scale_after_a_currency() -> None:
    c = claim("The lender will lift deposits to $3.5bn next quarter.")
    assert c["metric"] == "tvl" and c["magnitude_value"] == pytest.approx(3.5e9)
    assert c["horizon"] == "2023-09-30"


def test_share_of_a_total() -> None:
    c = claim("AI data centers will consume 9% of US electricity by 2030.")
    assert c["magnitude_kind"] == "share" and c["metric"] == "energy"


def test_quarter_horizon() -> None:
    assert claim("Acme expects revenue to double by Q3 2025.")["horizon"] == "2025-09-30"
    assert (
        claim("Acme will double revenue in the third quarter of 2024.")["horizon"] == "2024-09-30"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Revenue was $35.1 billion in the third quarter, up 94% year over year.",
        "Revenue rose 62% last quarter to a record $18 billion.",
        "Demand for accelerators should keep growing over the next decade.",
        "The meeting took place in a conference room downstairs.",
        "Analysts expected revenue to double by 2022.",
        "",
    ],
)
def test_past_results_and_unquantified_forecasts_are_not_claims(text: str) -> None:
    no_claim(text)


def test_japanese_market_size_by_2030() -> None:
    c = claim("2030年までに市場規模は1兆ドルに", language="ja")
    assert c["horizon"] == "2030-12-31"
    assert c["magnitude_value"] == pytest.approx(1e12) and c["currency"] == "USD"
    assert c["metric"] == "other" and c["language"] == "ja"


def test_japanese_multiplier_fiscal_year_and_hedge() -> None:
    c = claim("同社は2026年度に売上高を3倍にすることを目指す。")
    assert (c["metric"], c["magnitude_kind"], c["claimed_change"]) == ("revenue", "multiplier", 3.0)
    assert c["horizon"] == "2027-03-31"  # 年度 ends in March
    assert c["hedge"] == "aspirational" and c["speaker"] == "company"


def test_japanese_percentage_relative_horizon_and_analyst() -> None:
    c = claim("アナリストは電力需要が今後5年で15％増加すると予想している。")
    assert c["metric"] == "energy" and c["claimed_change"] == pytest.approx(1.15)
    assert c["horizon"] == "2028-06-14" and c["speaker"] == "analyst" and c["hedge"] == "expected"


def test_japanese_oku_and_cho_numerals() -> None:
    c = claim("売上高は2027年に1兆2000億円に達する見込みだ。")
    assert c["magnitude_value"] == pytest.approx(1.2e12) and c["currency"] == "JPY"


def _frames(texts: list[str], growth: list[float | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    sentences = pd.DataFrame(
        {
            "document_id": [1] * len(texts),
            "sentence_index": range(len(texts)),
            "text": texts,
            "growth": [float("nan") if g is None else g for g in growth],
            "entity_ids": [["acme"]] * len(texts),
        }
    )
    documents = pd.DataFrame(
        [{"id": 1, "published_at": "2024-03-01T09:00:00+00:00", "language": "en"}]
    )
    return sentences, documents


def test_extract_claims_applies_the_growth_threshold_and_keys_claims() -> None:
    sentences, documents = _frames(
        [
            "Acme expects revenue to double by 2026.",
            "Acme will triple capacity by 2027.",
            "Acme expects fees to rise 50% next year.",
        ],
        [0.9, 0.2, None],
    )
    frame = extract_claims(sentences, documents, growth_threshold=0.5)
    assert list(frame.columns)[: len(CLAIM_COLUMNS)] == list(CLAIM_COLUMNS)
    assert list(frame["sentence_index"]) == [0, 2]  # below the threshold: skipped; unscored: read
    assert frame["claim_key"].is_unique
    assert frame.loc[0, "published_at"] == "2024-03-01"
    again = extract_claims(sentences, documents, growth_threshold=0.5)
    assert list(again["claim_key"]) == list(frame["claim_key"])
    strict = extract_claims(sentences, documents, growth_threshold=0.5, include_unscored=False)
    assert list(strict["sentence_index"]) == [0]


def test_extract_claims_bad_input() -> None:
    sentences, documents = _frames(["Acme expects revenue to double by 2026."], [0.9])
    with pytest.raises(InputError, match="threshold"):
        extract_claims(sentences, documents, growth_threshold=1.5)
    with pytest.raises(InputError, match="lacks column"):
        extract_claims(sentences.drop(columns="text"), documents)
    with pytest.raises(InputError, match="DataFrame"):
        extract_claims([{"text": "x"}], documents)
    undated = documents.assign(published_at=[None])
    assert len(extract_claims(sentences, undated)) == 0  # no date: no horizon can be resolved


def test_claims_in_a_pasted_text_with_entities() -> None:
    entities = [{"id": "acme", "name": "Acme", "aliases": ["Acme Corp", "Acme"]}]
    text = "Acme Corp had a good year. Acme expects revenue to double by 2026. Nobody else spoke."
    frame = claims_in_text(text, published_at="2024-01-10", entities=entities)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (
        row["entity_id"] == "acme" and row["horizon"] == "2026-12-31" and row["sentence_index"] == 1
    )
