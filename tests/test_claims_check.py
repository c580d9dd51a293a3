"""Checking claims against fundamentals: known answers, point-in-time, and bad input."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analyzer.claims.check import CHECK_COLUMNS, check_claims, point_in_time, scorecard
from analyzer.errors import InputError


def quarterly_revenue(
    values: list[float], *, first_year: int = 2022, lag_days: int = 40, entity: str = "acme"
) -> list[dict]:
    rows = []
    ends = ["03-31", "06-30", "09-30", "12-31"]
    for index, value in enumerate(values):
        year, quarter = first_year + index // 4, index % 4
        end = date.fromisoformat(f"{year}-{ends[quarter]}")
        filed = date.fromordinal(end.toordinal() + lag_days)
        rows.append(
            {
                "entity_id": entity,
                "metric": "revenue",
                "date": end.isoformat(),
                "value": value,
                "unit": "USD",
                "source": "test",
                "filed_at": filed.isoformat(),
            }
        )
    return rows


def monthly(
    entity: str, metric: str, values: list[float], unit: str, first: str = "2022-01"
) -> list[dict]:
    rows = []
    year, month = map(int, first.split("-"))
    for value in values:
        last = pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)
        rows.append(
            {
                "entity_id": entity,
                "metric": metric,
                "date": last.date().isoformat(),
                "value": value,
                "unit": unit,
                "source": "test",
                "filed_at": None,
            }
        )
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return rows


def a_claim(**fields: object) -> dict:
    base = {
        "claim_key": "k1",
        "extractor_version": "rules-1",
        "entity_id": "acme",
        "metric": "revenue",
        "direction": "up",
        "magnitude_kind": "multiplier",
        "magnitude_value": 2.0,
        "magnitude_unit": "x",
        "currency": None,
        "per_year": False,
        "baseline_value": None,
        "baseline_unit": None,
        "claimed_change": 2.0,
        "horizon": "2024-12-31",
        "horizon_error": None,
        "published_at": "2023-02-15",
    }
    base.update(fields)
    return base


def check(
    claims: list[dict], rows: list[dict], as_of: str = "2025-06-01", **options: object
) -> pd.DataFrame:
    return check_claims(pd.DataFrame(claims), pd.DataFrame(rows), as_of=as_of, **options)  # type: ignore[arg-type]


# Acme's quarterly revenue: 100 a quarter in 2022, 150 in 2023, 250 in 2024.
REVENUE = quarterly_revenue([100] * 4 + [150] * 4 + [250] * 4)


def test_met_with_the_ratio_realised_over_claimed() -> None:
    result = check([a_claim()], REVENUE).iloc[0]
    # Baseline: the trailing year known on 2023-02-15 = the four 2022 quarters (Q4 filed 2023-02-09).
    assert result["baseline_checked"] == 400 and result["baseline_date"] == "2022-12-31"
    assert result["realised_value"] == 1000 and result["realised_date"] == "2024-12-31"
    assert result["status"] == "met"
    assert result["realised_change"] == pytest.approx(2.5)
    assert result["ratio"] == pytest.approx(2.5 / 2.0)


def test_missed() -> None:
    result = check([a_claim(magnitude_value=3.0, claimed_change=3.0)], REVENUE).iloc[0]
    assert result["status"] == "missed" and result["realised_change"] == pytest.approx(2.5)
    assert result["ratio"] == pytest.approx(2.5 / 3.0)


def test_pending_before_the_horizon_and_without_one() -> None:
    results = check(
        [
            a_claim(claim_key="a", horizon="2026-12-31"),
            a_claim(claim_key="b", horizon=None, horizon_error="no horizon stated"),
        ],
        REVENUE,
    )
    assert list(results["status"]) == ["pending", "pending"]
    assert "not reached" in results.loc[0, "status_reason"]
    assert results.loc[1, "status_reason"] == "no horizon stated"


def test_point_in_time_only_values_filed_by_the_check_date() -> None:
    # On 2025-01-20 the 2024Q4 figure (filed 2025-02-09) is not known yet: still pending.
    early = check([a_claim()], REVENUE, as_of="2025-01-20").iloc[0]
    assert early["status"] == "pending" and "filed by 2025-01-20" in early["status_reason"]
    # A restatement filed after the check date is not seen; the original filing is.
    restated = REVENUE + [{**REVENUE[-1], "value": 10.0, "filed_at": "2025-05-01"}]
    before = check([a_claim()], restated, as_of="2025-04-01").iloc[0]
    after = check([a_claim()], restated, as_of="2025-06-01").iloc[0]
    assert before["realised_value"] == 1000
    assert after["realised_value"] == 760 and after["status"] == "missed"


def test_point_in_time_frame_keeps_the_last_filing_known() -> None:
    rows = pd.DataFrame(
        [
            {
                "entity_id": "e",
                "metric": "m",
                "date": "2024-03-31",
                "value": 1.0,
                "unit": None,
                "source": "s",
                "filed_at": "2024-05-01",
            },
            {
                "entity_id": "e",
                "metric": "m",
                "date": "2024-03-31",
                "value": 2.0,
                "unit": None,
                "source": "s",
                "filed_at": "2024-08-01",
            },
        ]
    )
    assert list(point_in_time(rows, date(2024, 6, 1))["value"]) == [1.0]
    assert list(point_in_time(rows, date(2024, 9, 1))["value"]) == [2.0]
    assert len(point_in_time(rows, date(2024, 4, 1))) == 0


def test_absolute_target_against_the_latest_level_known_at_publication() -> None:
    tvl = monthly("acme", "tvl", [1e9] * 12 + [2e9] * 12 + [5e9] * 12, "USD")
    claim = a_claim(
        metric="tvl",
        magnitude_kind="absolute",
        magnitude_value=4e9,
        magnitude_unit="USD",
        currency="USD",
        claimed_change=None,
        published_at="2023-01-15",
    )
    result = check([claim], tvl).iloc[0]
    assert result["baseline_checked"] == 1e9 and result["baseline_date"] == "2022-12-31"
    assert result["claimed_change_checked"] == pytest.approx(4.0)
    assert result["status"] == "met" and result["realised_change"] == pytest.approx(5.0)


def test_energy_claim_against_electricity_sales_with_unit_conversion() -> None:
    # Monthly sales of 10,000 million kWh (= 10 TWh); a claim of 150 TWh for the year 2024.
    sales = monthly("dc", "electricity_sales_va_com", [10_000] * 24 + [12_000] * 12, "million kWh")
    claim = a_claim(
        entity_id="dc",
        metric="energy",
        magnitude_kind="absolute",
        magnitude_value=150.0,
        magnitude_unit="TWh",
        claimed_change=None,
        published_at="2023-01-10",
    )
    result = check([claim], sales).iloc[0]
    assert result["checked_metric"] == "electricity_sales_va_com"
    assert result["baseline_checked"] == 120_000  # trailing-year total of 2022
    assert result["claimed_change_checked"] == pytest.approx(150_000 / 120_000)
    assert result["status"] == "missed" and result["realised_change"] == pytest.approx(
        144_000 / 120_000
    )


def test_annual_rate_compounds_over_the_checked_period() -> None:
    claim = a_claim(
        magnitude_kind="percent", magnitude_value=50.0, claimed_change=None, per_year=True
    )
    result = check([claim], REVENUE).iloc[0]
    years = (date(2024, 12, 31) - date(2022, 12, 31)).days / 365.25
    assert result["claimed_change_checked"] == pytest.approx(1.5**years)
    assert result["status"] == "met"


def test_decline_claim() -> None:
    falling = quarterly_revenue([100] * 4 + [90] * 4 + [60] * 4)
    claim = a_claim(
        direction="down", magnitude_kind="percent", magnitude_value=30.0, claimed_change=0.7
    )
    result = check([claim], falling).iloc[0]
    assert result["status"] == "met" and result["realised_change"] == pytest.approx(0.6)
    claim_more = a_claim(
        direction="down", magnitude_kind="percent", magnitude_value=50.0, claimed_change=0.5
    )
    assert check([claim_more], falling).iloc[0]["status"] == "missed"


def test_tolerance_counts_near_misses() -> None:
    claim = a_claim(magnitude_value=2.6, claimed_change=2.6)
    assert check([claim], REVENUE).iloc[0]["status"] == "missed"
    assert check([claim], REVENUE, tolerance=0.1).iloc[0]["status"] == "met"


@pytest.mark.parametrize(
    ("claim", "rows", "reason"),
    [
        (a_claim(entity_id="ghost"), REVENUE, "has no fundamentals"),
        (a_claim(entity_id=None), REVENUE, "names no entity"),
        (a_claim(metric="other"), REVENUE, "no fundamentals series measures"),
        (a_claim(metric="users"), REVENUE, "has no users series"),
        (
            a_claim(magnitude_kind="share", magnitude_value=9.0, claimed_change=None),
            REVENUE,
            "share of a total",
        ),
        (
            a_claim(
                magnitude_kind="absolute",
                magnitude_value=5.0,
                magnitude_unit="GW",
                claimed_change=None,
            ),
            REVENUE,
            "contradictory units",
        ),
        (
            a_claim(
                magnitude_kind="absolute",
                magnitude_value=1e3,
                magnitude_unit="EUR",
                currency="EUR",
                claimed_change=None,
            ),
            REVENUE,
            "no exchange rate from EUR to USD",
        ),
        (
            a_claim(
                magnitude_kind="absolute",
                magnitude_value=10.0,
                magnitude_unit="USD",
                currency="USD",
                baseline_value=2.0,
                baseline_unit="GW",
                claimed_change=None,
            ),
            REVENUE,
            "contradictory units",
        ),
        (a_claim(published_at="2019-01-01"), REVENUE, "known at publication"),
    ],
)
def test_unverifiable_with_a_reason(claim: dict, rows: list[dict], reason: str) -> None:
    result = check([claim], rows).iloc[0]
    assert result["status"] == "unverifiable"
    assert reason in result["status_reason"]


def test_a_rate_makes_a_foreign_currency_claim_checkable() -> None:
    claim = a_claim(
        magnitude_kind="absolute",
        magnitude_value=900.0,
        magnitude_unit="EUR",
        currency="EUR",
        claimed_change=None,
    )
    result = check([claim], REVENUE, fx_rates={"EUR": 1.1, "USD": 1.0}).iloc[0]
    assert result["claimed_change_checked"] == pytest.approx(990 / 400)
    assert result["status"] == "met"


def test_unreadable_horizon_stays_pending_with_the_reason() -> None:
    result = check([a_claim(horizon="sometime soon", horizon_error=None)], REVENUE).iloc[0]
    assert result["status"] == "pending" and "unreadable horizon" in result["status_reason"]


def test_check_claims_bad_input_and_empty_frames() -> None:
    with pytest.raises(InputError, match="ISO date"):
        check_claims(pd.DataFrame([a_claim()]), pd.DataFrame(REVENUE), as_of="yesterday")
    with pytest.raises(InputError, match="tolerance"):
        check_claims(pd.DataFrame([a_claim()]), pd.DataFrame(REVENUE), tolerance=1.5)
    empty = check_claims(
        pd.DataFrame(columns=list(a_claim())), pd.DataFrame(REVENUE), as_of="2025-01-01"
    )
    assert list(empty.columns) == list(CHECK_COLUMNS) and len(empty) == 0
    no_rows = check([a_claim()], []).iloc[0]
    assert no_rows["status"] == "unverifiable"


def test_scorecard_counts_and_reliability() -> None:
    claims = pd.DataFrame(
        [
            {"entity_id": "a", "horizon": "2024-12-31", "status": "met"},
            {"entity_id": "a", "horizon": "2024-06-30", "status": "missed"},
            {"entity_id": "a", "horizon": "2024-03-31", "status": "met"},
            {"entity_id": "a", "horizon": "2027-12-31", "status": "pending"},
            {"entity_id": "b", "horizon": None, "status": "pending"},
            {"entity_id": "b", "horizon": "2024-01-31", "status": "unverifiable"},
        ]
    )
    card = scorecard(claims, as_of="2025-06-01").set_index("entity_id")
    assert card.loc["a", ["made", "due", "met", "missed", "pending"]].tolist() == [4, 3, 2, 1, 1]
    assert card.loc["a", "reliability"] == pytest.approx(2 / 3)
    assert card.loc["b", "due"] == 1 and pd.isna(card.loc["b", "reliability"])
