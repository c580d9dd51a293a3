"""Connectors against real API responses from ../shared/realdata/financial (skipped when absent)."""

from __future__ import annotations

import csv
import json
import threading
from collections import defaultdict
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from analyzer import pipeline
from analyzer.errors import InputError
from analyzer.fundamentals import FetchOptions
from analyzer.fundamentals.coingecko import parse_market_chart
from analyzer.fundamentals.defillama import current_tvl, is_tvl_key, parse_protocol_tvl
from analyzer.fundamentals.fred import parse_fred_csv
from analyzer.fundamentals.sec import normalise_cik, parse_companyfacts, parse_companyfacts_text

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def financial(realdata: Path) -> Path:
    return realdata / "financial"


def _sec(financial: Path, *parts: str) -> Path:
    return financial.joinpath("sec-edgar", *parts)


@pytest.fixture(scope="module")
def snowflake(financial: Path) -> dict[str, Any]:
    return json.loads(
        _sec(financial, "edgartools", "tests", "fixtures", "entity", "snow_facts.json").read_text()
    )


def by_metric(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["metric"]].append(row)
    return grouped


def latest_per_date(rows: list[dict[str, Any]]) -> dict[str, float]:
    best: dict[str, tuple[str, float]] = {}
    for row in rows:
        if row["date"] not in best or row["filed_at"] >= best[row["date"]][0]:
            best[row["date"]] = (row["filed_at"], row["value"])
    return {d: v for d, (_, v) in sorted(best.items())}


# --------------------------------------------------------------------------- SEC


def test_snowflake_quarters_exclude_year_to_date_and_derive_q4(snowflake):
    metrics = by_metric(parse_companyfacts(snowflake, "snowflake"))
    quarters = latest_per_date(metrics["revenue"])
    years = latest_per_date(metrics["revenue_annual"])
    assert quarters["2023-10-31"] == 734_173_000  # filed as a quarter in the 10-Q
    # Six- and nine-month year-to-date figures are not quarters.
    assert 1_697_532_000 not in quarters.values() and 2_031_790_000 not in quarters.values()
    # The fourth quarter of fiscal 2024 is not filed on its own; derived, it is Snowflake's
    # reported $774.7 million.
    assert quarters["2024-01-31"] == 774_699_000
    # Quarters of a fiscal year add up to the year.
    fy24 = ["2023-04-30", "2023-07-31", "2023-10-31", "2024-01-31"]
    assert sum(quarters[d] for d in fy24) == years["2024-01-31"] == 2_806_489_000
    # Consecutive quarter ends are about three months apart: no gaps, no stray periods.
    ends = [date.fromisoformat(d) for d in quarters if d >= "2019-10-31"]
    assert all(85 <= (b - a).days <= 95 for a, b in zip(ends, ends[1:]))


def test_snowflake_other_metrics_and_units(snowflake):
    metrics = by_metric(parse_companyfacts(snowflake, "snowflake"))
    for name in ("rd", "rd_annual", "capex_annual", "operating_income"):
        assert metrics[name], name
    # Snowflake has reported an operating loss every fiscal year.
    assert all(v < 0 for v in latest_per_date(metrics["operating_income_annual"]).values())
    assert {r["unit"] for rows in metrics.values() for r in rows} == {"USD"}


def test_snowflake_served_over_http_end_to_end(snowflake, financial, store, tmp_path):
    body = _sec(
        financial, "edgartools", "tests", "fixtures", "entity", "snow_facts.json"
    ).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            found = self.path == "/api/xbrl/companyfacts/CIK0001640147.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        store.upsert_entity({"id": "snowflake", "name": "Snowflake", "sec_cik": "1640147"})
        report = pipeline.fetch_fundamentals(
            store,
            "sec",
            ["snowflake"],
            FetchOptions(
                base_url=f"http://127.0.0.1:{httpd.server_address[1]}",
                cache_dir=tmp_path,
                allow_private=True,
                user_agent="Tests tests@example.com",
            ),
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert report.errors == []
    assert report.rows_written == len(parse_companyfacts(snowflake, "snowflake"))
    # The fiscal 2021 year was filed three times; point in time shows the first filing only.
    versions = store.query(
        "SELECT filed_at FROM fundamentals WHERE entity_id = 'snowflake' AND metric = 'revenue_annual'"
        " AND date = '2021-01-31' ORDER BY filed_at"
    )
    assert [v["filed_at"] for v in versions] == ["2021-03-31", "2022-03-30", "2023-03-29"]
    as_known = store.fundamentals("snowflake", "revenue_annual", as_of="2021-12-31")
    assert [(r["date"], r["filed_at"]) for r in as_known][-1] == ("2021-01-31", "2021-03-31")


def test_ifrs_filer_with_string_cik(financial):
    path = _sec(financial, "edgartools", "tests", "fixtures", "entity", "lpa_facts.json")
    payload = json.loads(path.read_text())
    assert normalise_cik(payload["cik"]) == "0001997711" == normalise_cik("CIK1997711")
    metrics = by_metric(parse_companyfacts(payload, "lpa"))
    assert latest_per_date(metrics["revenue_annual"])["2024-12-31"] == 43_862_372
    assert latest_per_date(metrics["capex_annual"])["2024-12-31"] == 71_066
    assert latest_per_date(metrics["operating_income_annual"])["2024-12-31"] == 36_606_814
    assert {r["unit"] for r in metrics["revenue_annual"]} == {"USD"}
    # This filer also reports in COP, CRC and PEN; a concept reported only in a local currency
    # keeps its currency as the unit.
    concept = payload["facts"]["ifrs-full"]["Revenue"]
    concept["units"] = {"COP": concept["units"]["USD"]}
    relabelled = by_metric(parse_companyfacts(payload, "lpa"))
    assert {r["unit"] for r in relabelled["revenue_annual"]} == {"COP"}


def test_tesla_python_dict_repr_is_rejected_clearly(financial):
    text = _sec(financial, "edgartools", "data-at-d5e8247", "company_facts.json").read_text()
    with pytest.raises(InputError, match="Python dict repr .* not JSON"):
        parse_companyfacts_text(text, "tesla", origin="company_facts.json")


def test_apple_period_in_two_filings_is_point_in_time(financial, store):
    path = _sec(
        financial,
        "TextLayer-isw-company-similarity",
        "tests",
        "fixtures",
        "entity_storage",
        "sec_data",
        "apple_company_facts.json",
    )
    rows = parse_companyfacts_text(path.read_text(), "apple")
    annual = [r for r in rows if r["metric"] == "revenue_annual"]
    assert len(annual) == 5  # three fiscal years, two of them filed twice
    store.add_fundamentals(rows)

    def view(as_of: str) -> dict[str, str]:
        return {
            r["date"]: r["filed_at"]
            for r in store.fundamentals("apple", "revenue_annual", as_of=as_of)
        }

    assert view("2024-06-01") == {"2023-09-30": "2023-11-03"}
    # Fiscal 2023 was filed again as the comparative in the fiscal 2024 report.
    assert view("2024-12-01") == {"2023-09-30": "2024-11-01", "2024-09-28": "2024-11-01"}
    assert view("2025-11-15")["2024-09-28"] == "2025-10-31"
    assert (
        store.fundamentals("apple", "revenue_annual", as_of="2025-11-15")[-1]["value"]
        == 416_161_000_000
    )


# --------------------------------------------------------------------------- DefiLlama


def _protocols(financial: Path) -> list[Path]:
    return sorted((financial / "defillama").rglob("protocols/*.json"))


def test_defillama_protocols_daily_series_without_intraday_point(financial):
    files = _protocols(financial)
    assert len(files) > 30
    for path in files:
        payload = json.loads(path.read_text())
        rows, dropped = parse_protocol_tvl(payload, path.stem, slug=path.stem)
        midnight = [p for p in payload["tvl"] if int(p["date"]) % 86400 == 0]
        assert dropped == len(payload["tvl"]) - len(midnight), path.name
        dates = [r["date"] for r in rows]
        assert dates == sorted(set(dates)), path.name
        assert rows[-1]["value"] == pytest.approx(midnight[-1]["totalLiquidityUSD"]), path.name


def test_defillama_current_tvl_does_not_double_count_borrowed(financial):
    double_counted = 0
    for path in _protocols(financial):
        payload = json.loads(path.read_text())
        now = payload["tvl"][-1]["totalLiquidityUSD"]
        # The top-level series' latest point agrees with the chains counted once...
        assert current_tvl(payload) == pytest.approx(now, rel=1e-6, abs=2.0), path.name
        naive = sum(payload["currentChainTvls"].values())
        if any(not is_tvl_key(k) for k in payload["currentChainTvls"]) and naive > now + 2:
            double_counted += 1
    # ...while summing every key would overstate many of them.
    assert double_counted >= 10


# --------------------------------------------------------------------------- CoinGecko


def _chart(financial: Path, *parts: str) -> dict[str, Any]:
    return json.loads(financial.joinpath("coingecko", *parts).read_text())


@pytest.mark.parametrize(
    "parts, granularity",
    [
        (("Ell04-cryptotracking", "data", "bitcoin_data.json"), "daily"),
        (("bonifazdaniel-Python-CRYPTO-project", "data", "bitcoin_data.json"), "hourly"),
        (("unsupervised-machine-crypto_api", "data", "bitcoin_recent_data.json"), "5-minute"),
    ],
)
def test_coingecko_downsampled_to_last_value_per_utc_day(financial, parts, granularity):
    payload = _chart(financial, *parts)
    rows = parse_market_chart(payload, "bitcoin", coin_id="bitcoin")
    prices = {r["date"]: r["value"] for r in rows if r["metric"] == "price"}
    last_by_day: dict[str, tuple[int, float]] = {}
    for stamp, value in payload["prices"]:
        day = datetime.fromtimestamp(stamp / 1000, tz=timezone.utc).date().isoformat()
        if day not in last_by_day or stamp > last_by_day[day][0]:
            last_by_day[day] = (stamp, value)
    assert prices == {d: v for d, (_, v) in last_by_day.items()}, granularity
    assert len(prices) < len(payload["prices"]) or granularity == "daily"
    assert all(10_000 < v < 200_000 for v in prices.values())  # bitcoin in USD
    for metric in ("market_cap", "volume"):
        assert {r["date"] for r in rows if r["metric"] == metric} == set(prices)


# --------------------------------------------------------------------------- FRED


def _fred(financial: Path, *parts: str) -> str:
    return financial.joinpath("fred", *parts).read_text()


def _data_lines(text: str) -> list[list[str]]:
    return [row for row in list(csv.reader(text.splitlines()))[1:] if row]


def test_fred_classic_date_series(financial):
    text = _fred(financial, "DanyuWang-Bitcoin_Macro", "data", "DFF.csv")
    rows, problems = parse_fred_csv(text)
    assert problems == []
    assert {r["metric"] for r in rows} == {"DFF"}
    assert len(rows) == len(_data_lines(text))
    assert (rows[0]["date"], rows[0]["value"]) == ("2016-06-30", 0.30)


def test_fred_spreadsheet_dates_and_blanks(financial):
    text = _fred(financial, "DanyuWang-Bitcoin_Macro", "data", "GOLDPMGBD228NLBM.csv")
    rows, problems = parse_fred_csv(text)
    lines = _data_lines(text)
    blanks = sum(1 for row in lines if not row[1].strip())
    assert problems == [] and blanks > 10
    assert len(rows) == len(lines) - blanks
    assert rows[0]["date"] == "2016-06-30" and rows[2]["date"] == "2016-07-04"
    assert all(len(r["date"]) == 10 for r in rows)


def test_fred_resaved_date_value_needs_the_series_id(financial):
    text = _fred(financial, "sivamsapingali-Codex_Macro-Monitor", "data", "SP500.csv")
    with pytest.raises(InputError, match="generic 'value' column"):
        parse_fred_csv(text)
    rows, _ = parse_fred_csv(text, series_id="SP500")
    assert {r["metric"] for r in rows} == {"SP500"}
    assert "2016-01-01" not in {r["date"] for r in rows}  # a blank holiday is not an observation


def test_fred_multi_series_observation_date(financial):
    text = _fred(financial, "ttamura01-fed_t_note", "fredgraph.csv")
    rows, problems = parse_fred_csv(text)
    assert problems == []
    metrics = by_metric(rows)
    assert set(metrics) == {"FEDFUNDS", "MORTGAGE30US"}
    assert len(metrics["FEDFUNDS"]) == len(metrics["MORTGAGE30US"]) == len(_data_lines(text))
