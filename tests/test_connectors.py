"""Fundamentals connectors end to end against a real HTTP server on 127.0.0.1.

The server serves small responses written here (invented companies and numbers), in the shapes
the real APIs use; the connectors reach it through their configurable base URL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from analyzer import pipeline
from analyzer.errors import FetchError, InputError
from analyzer.fundamentals import FetchOptions
from analyzer.fundamentals.http import HttpClient, TokenBucket

DAY = 86400


@dataclass
class Reply:
    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FixtureServer:
    """Replies per request path (query included); a list of replies is served in turn, the last repeating."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                server.requests.append({"path": self.path, "headers": dict(self.headers)})
                replies = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if not replies:
                    reply = Reply(404, json.dumps({"message": "not found"}))
                else:
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def hits(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r["path"].startswith(prefix))


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    fixture = FixtureServer()
    fixture.thread.start()
    yield fixture
    fixture.httpd.shutdown()
    fixture.httpd.server_close()


def options(server: FixtureServer, tmp_path: Path, **extra: Any) -> FetchOptions:
    settings = {
        "base_url": server.url,
        "cache_dir": tmp_path / "cache",
        "timeout": 5.0,
        "rate_per_second": 100.0,
        "allow_private": True,
    }
    settings.update(extra)
    return FetchOptions(**settings)


def _fact(
    start: str, end: str, val: float, filed: str, form: str, fp: str, fy: int
) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "val": val,
        "accn": f"0000000001-{filed}",
        "fy": fy,
        "fp": fp,
        "form": form,
        "filed": filed,
    }


def companyfacts() -> dict[str, Any]:
    """An invented filer: two quarters, a nine-month year-to-date, a year (filed twice) and R&D."""
    revenue = [
        _fact("2023-01-01", "2023-03-31", 100.0, "2023-05-01", "10-Q", "Q1", 2023),
        _fact("2023-04-01", "2023-06-30", 120.0, "2023-08-01", "10-Q", "Q2", 2023),
        _fact("2023-01-01", "2023-06-30", 220.0, "2023-08-01", "10-Q", "Q2", 2023),
        _fact("2023-07-01", "2023-09-30", 130.0, "2023-11-01", "10-Q", "Q3", 2023),
        _fact("2023-01-01", "2023-09-30", 350.0, "2023-11-01", "10-Q", "Q3", 2023),
        _fact("2023-01-01", "2023-12-31", 500.0, "2024-02-15", "10-K", "FY", 2023),
        # The same year again in the next annual report, restated.
        _fact("2023-01-01", "2023-12-31", 490.0, "2025-02-14", "10-K", "FY", 2024),
    ]
    return {
        "cik": 1234567,
        "entityName": "Example Compute Corp",
        "facts": {
            "us-gaap": {
                "Revenues": {"label": "Revenues", "units": {"USD": revenue}},
                "ResearchAndDevelopmentExpense": {
                    "units": {
                        "USD": [
                            _fact(
                                "2023-01-01", "2023-03-31", 40.0, "2023-05-01", "10-Q", "Q1", 2023
                            )
                        ]
                    }
                },
            }
        },
    }


# --------------------------------------------------------------------------- SEC


def test_sec_fetch_stores_quarters_years_and_point_in_time_view(server, tmp_path, store):
    server.route(
        "/api/xbrl/companyfacts/CIK0001234567.json", Reply(body=json.dumps(companyfacts()))
    )
    store.upsert_entity({"id": "examplecorp", "name": "Example Compute", "sec_cik": "1234567"})
    report = pipeline.fetch_fundamentals(
        store,
        "sec",
        ["examplecorp"],
        options(server, tmp_path),
        user_agent="Test Runner test@example.com",
    )
    assert report.errors == []
    assert server.requests[0]["headers"]["User-Agent"] == "Test Runner test@example.com"

    quarters = {r["date"]: r["value"] for r in store.fundamentals("examplecorp", "revenue")}
    # Three filed quarters; the fourth is the year less the nine months, as filed with the 10-K.
    assert quarters == {
        "2023-03-31": 100.0,
        "2023-06-30": 120.0,
        "2023-09-30": 130.0,
        "2023-12-31": 140.0,
    }
    assert store.fundamentals("examplecorp", "rd")[0]["value"] == 40.0

    before_restatement = store.fundamentals("examplecorp", "revenue_annual", as_of="2024-06-30")
    latest = store.fundamentals("examplecorp", "revenue_annual")
    assert [r["value"] for r in before_restatement] == [500.0]
    assert [r["value"] for r in latest] == [490.0]
    assert store.fundamentals("examplecorp", "revenue_annual", as_of="2024-01-01") == []


def test_sec_without_user_agent_fails_before_any_request(server, tmp_path, store, monkeypatch):
    monkeypatch.delenv("ANALYZER_SEC_USER_AGENT", raising=False)
    server.route(
        "/api/xbrl/companyfacts/CIK0001234567.json", Reply(body=json.dumps(companyfacts()))
    )
    with pytest.raises(InputError, match="SEC requires a User-Agent with contact details"):
        pipeline.fetch_fundamentals(store, "sec", ["1234567"], options(server, tmp_path))
    with pytest.raises(InputError, match="--user-agent"):
        pipeline.fetch_fundamentals(
            store, "sec", ["1234567"], options(server, tmp_path), user_agent="no contact"
        )
    assert server.requests == []


def test_sec_user_agent_from_environment(server, tmp_path, store, monkeypatch):
    monkeypatch.setenv("ANALYZER_SEC_USER_AGENT", "Env Person env@example.org")
    server.route(
        "/api/xbrl/companyfacts/CIK0001234567.json", Reply(body=json.dumps(companyfacts()))
    )
    report = pipeline.fetch_fundamentals(store, "sec", ["CIK1234567"], options(server, tmp_path))
    assert report.rows_written > 0
    assert server.requests[0]["headers"]["User-Agent"] == "Env Person env@example.org"
    # A raw CIK with no matching entity is stored under the identifier as typed.
    assert store.fundamentals("CIK1234567", "revenue")


def test_sec_unknown_cik_names_the_fix(server, tmp_path, store):
    with pytest.raises(
        FetchError, match=r"SEC: no companyfacts for CIK0000000042 \(HTTP 404\); check the CIK"
    ):
        pipeline.fetch_fundamentals(
            store, "sec", ["42"], options(server, tmp_path), user_agent="T t@example.com"
        )


# --------------------------------------------------------------------------- DefiLlama


def protocol_payload() -> dict[str, Any]:
    start = 1_700_006_400  # a UTC midnight
    tvl = [{"date": start + i * DAY, "totalLiquidityUSD": 1000.0 + i} for i in range(3)]
    tvl.append({"date": start + 2 * DAY + 15_000, "totalLiquidityUSD": 5.0})  # intraday "now"
    return {
        "name": "Example Lend",
        "tvl": tvl,
        "currentChainTvls": {"Ethereum": 1002.0, "Ethereum-borrowed": 600.0, "borrowed": 600.0},
    }


def fees_payload(values: list[float]) -> dict[str, Any]:
    start = 1_700_006_400
    return {"totalDataChart": [[start + i * DAY, v] for i, v in enumerate(values)]}


def test_defillama_tvl_fees_and_revenue(server, tmp_path, store):
    server.route("/protocol/example-lend", Reply(body=json.dumps(protocol_payload())))
    server.route(
        "/summary/fees/example-lend?dataType=dailyFees",
        Reply(body=json.dumps(fees_payload([7.0, 8.0]))),
    )
    server.route(
        "/summary/fees/example-lend?dataType=dailyRevenue",
        Reply(body=json.dumps(fees_payload([2.0, 3.0]))),
    )
    store.upsert_entity(
        {"id": "example-lend", "name": "Example Lend", "defillama_slug": "example-lend"}
    )
    report = pipeline.fetch_fundamentals(store, "defillama", [], options(server, tmp_path))
    tvl = store.fundamentals("example-lend", "tvl")
    assert [r["value"] for r in tvl] == [1000.0, 1001.0, 1002.0]  # intraday point dropped
    assert [r["value"] for r in store.fundamentals("example-lend", "fees")] == [7.0, 8.0]
    assert [r["value"] for r in store.fundamentals("example-lend", "protocol_revenue")] == [
        2.0,
        3.0,
    ]
    assert any("intraday" in note for note in report.notes)


def test_defillama_unknown_slug_names_the_fix(server, tmp_path, store):
    with pytest.raises(FetchError) as caught:
        pipeline.fetch_fundamentals(store, "defillama", ["foo"], options(server, tmp_path))
    assert str(caught.value) == (
        "DefiLlama: protocol 'foo' not found (HTTP 404); check the slug at https://defillama.com"
    )


def test_defillama_missing_fee_adapter_is_a_note_not_a_failure(server, tmp_path, store):
    server.route("/protocol/example-lend", Reply(body=json.dumps(protocol_payload())))
    report = pipeline.fetch_fundamentals(
        store, "defillama", ["example-lend"], options(server, tmp_path)
    )
    assert report.errors == []
    assert any("no fees data" in note for note in report.notes)
    assert len(store.fundamentals("example-lend", "tvl")) == 3


# --------------------------------------------------------------------------- CoinGecko


def market_chart() -> dict[str, Any]:
    day0 = 1_700_006_400_000
    hour = 3_600_000
    prices = [
        [day0 + h * hour, 10.0 + h] for h in range(0, 30, 6)
    ]  # 00,06,12,18 then next day 00,06
    return {
        "prices": prices,
        "market_caps": [[t, v * 1000] for t, v in prices],
        "total_volumes": [[t, v * 10] for t, v in prices],
    }


def test_coingecko_daily_downsampling_and_demo_key(server, tmp_path, store):
    server.route(
        "/coins/example-coin/market_chart?days=30&vs_currency=usd",
        Reply(body=json.dumps(market_chart())),
    )
    store.upsert_entity({"id": "excoin", "name": "Example Coin", "coingecko_id": "example-coin"})
    pipeline.fetch_fundamentals(
        store, "coingecko", ["excoin"], options(server, tmp_path, api_key="demo-key", days=30)
    )
    assert server.requests[0]["headers"].get("x-cg-demo-api-key") == "demo-key"
    prices = store.fundamentals("excoin", "price")
    # Last value of each UTC day: 18:00 on the first day, 06:00 on the second.
    assert [(r["date"], r["value"]) for r in prices] == [("2023-11-15", 28.0), ("2023-11-16", 34.0)]
    assert store.fundamentals("excoin", "market_cap")[-1]["value"] == 34000.0


def test_coingecko_pro_key_uses_pro_header(server, tmp_path, store):
    server.route(
        "/coins/example-coin/market_chart?days=365&vs_currency=usd",
        Reply(body=json.dumps(market_chart())),
    )
    pipeline.fetch_fundamentals(
        store, "coingecko", ["example-coin"], options(server, tmp_path, api_key="pro-key", pro=True)
    )
    headers = server.requests[0]["headers"]
    assert headers.get("x-cg-pro-api-key") == "pro-key" and "x-cg-demo-api-key" not in headers


def test_rate_limited_then_success_honours_retry_after(server, tmp_path, store):
    path = "/coins/example-coin/market_chart?days=365&vs_currency=usd"
    server.route(
        path,
        Reply(429, json.dumps({"status": {"error_code": 429}}), {"Retry-After": "1"}),
        Reply(body=json.dumps(market_chart())),
    )
    report = pipeline.fetch_fundamentals(
        store, "coingecko", ["example-coin"], options(server, tmp_path)
    )
    assert report.errors == []
    assert server.hits("/coins/") == 2
    assert store.fundamentals("example-coin", "price")


def test_retry_after_longer_than_allowed_fails_clearly(server, tmp_path, store):
    server.route(
        "/coins/slow-coin/market_chart?days=365&vs_currency=usd",
        Reply(429, "{}", {"Retry-After": "3600"}),
    )
    with pytest.raises(FetchError, match=r"CoinGecko: rate limited \(HTTP 429\).*3600 s"):
        pipeline.fetch_fundamentals(store, "coingecko", ["slow-coin"], options(server, tmp_path))
    assert server.hits("/coins/") == 1


def test_second_fetch_is_served_from_cache(server, tmp_path, store):
    server.route(
        "/coins/example-coin/market_chart?days=365&vs_currency=usd",
        Reply(body=json.dumps(market_chart())),
    )
    first = pipeline.fetch_fundamentals(
        store, "coingecko", ["example-coin"], options(server, tmp_path)
    )
    second = pipeline.fetch_fundamentals(
        store, "coingecko", ["example-coin"], options(server, tmp_path)
    )
    assert server.hits("/coins/") == 1
    assert (first.requests, first.cache_hits) == (1, 0)
    assert (second.requests, second.cache_hits) == (0, 1)
    assert second.rows_written == first.rows_written > 0
    assert list((tmp_path / "cache" / "coingecko").glob("*.body"))
    pipeline.fetch_fundamentals(
        store, "coingecko", ["example-coin"], options(server, tmp_path, refresh=True)
    )
    assert server.hits("/coins/") == 2


def test_timeout_names_source_and_fix(server, tmp_path, store):
    server.route("/coins/sleepy/market_chart?days=365&vs_currency=usd", Reply(body="{}", delay=2.0))
    with pytest.raises(FetchError, match=r"CoinGecko: request to .* timed out after 0.3 s"):
        pipeline.fetch_fundamentals(
            store, "coingecko", ["sleepy"], options(server, tmp_path, timeout=0.3)
        )


def test_one_failing_id_keeps_the_others(server, tmp_path, store):
    server.route(
        "/coins/example-coin/market_chart?days=365&vs_currency=usd",
        Reply(body=json.dumps(market_chart())),
    )
    report = pipeline.fetch_fundamentals(
        store, "coingecko", ["missing-coin", "example-coin"], options(server, tmp_path)
    )
    assert (
        len(report.errors) == 1 and "coin 'missing-coin' not found (HTTP 404)" in report.errors[0]
    )
    assert store.fundamentals("example-coin", "price")


# --------------------------------------------------------------------------- FRED


def test_fred_csv_with_missing_and_spreadsheet_dates(server, tmp_path, store):
    csv_text = "DATE,EXAMPLE1\n2024-01-01,3.5\n2024-01-02,.\n1/3/2024,3.75\n2024-01-04,\n"
    server.route(
        "/graph/fredgraph.csv?id=EXAMPLE1",
        Reply(body=csv_text, headers={"Content-Type": "text/csv"}),
    )
    pipeline.fetch_fundamentals(store, "fred", ["EXAMPLE1"], options(server, tmp_path))
    rows = store.fundamentals("macro", "EXAMPLE1")
    assert [(r["date"], r["value"]) for r in rows] == [("2024-01-01", 3.5), ("2024-01-03", 3.75)]


def test_fred_unknown_series(server, tmp_path, store):
    with pytest.raises(FetchError, match="FRED: series 'NOPE' not found"):
        pipeline.fetch_fundamentals(store, "fred", ["NOPE"], options(server, tmp_path))


# --------------------------------------------------------------------------- client pieces


def test_unknown_source_and_bad_base_url(store, tmp_path):
    with pytest.raises(InputError, match="unknown fundamentals source 'yahoo'"):
        pipeline.fetch_fundamentals(store, "yahoo", ["x"])
    with pytest.raises(InputError, match="must be an absolute http"):
        HttpClient(source="FRED", base_url="ftp://example.org", cache_dir=tmp_path)


def test_token_bucket_spaces_requests():
    clock = [0.0]
    bucket = TokenBucket(rate=10.0, clock=lambda: clock[0])
    assert bucket.wait_time() == 0.0  # the first request goes at once
    assert bucket.wait_time() == pytest.approx(0.1)
    clock[0] += 1.0  # after a pause, the bucket has refilled
    assert bucket.wait_time() == 0.0


def test_a_private_base_url_is_refused_without_allow_private(server, tmp_path, store):
    server.route("/series/observations", Reply(body="DATE,X\n2024-01-01,1\n"))
    with pytest.raises(FetchError, match=r"FRED: refused .*not public.*--allow-private"):
        pipeline.fetch_fundamentals(
            store, "fred", ["X"], options(server, tmp_path, allow_private=False)
        )
    assert server.requests == []  # refused before any connection was made


def test_a_redirect_to_a_private_address_is_refused(server, tmp_path, store):
    from analyzer.ingest.fetch import AddressPolicy

    server.route("/moved", Reply(302, headers={"Location": "http://10.0.0.1/internal"}))
    # The test server's network is allowed; the private address the redirect points to is not.
    policy = AddressPolicy(allowed_networks=["127.0.0.0/8"])
    with HttpClient(
        source="FRED", base_url=server.url, cache_dir=tmp_path, policy=policy
    ) as client:
        with pytest.raises(FetchError, match=r"FRED: refused .*10\.0\.0\.1"):
            client.get_text("/moved")
    assert server.hits("/moved") == 1


def test_an_unresolvable_host_is_an_error_naming_the_source(tmp_path, store):
    with pytest.raises(FetchError, match="DefiLlama: cannot resolve the host no-such-host.invalid"):
        pipeline.fetch_fundamentals(
            store,
            "defillama",
            ["aave"],
            FetchOptions(base_url="http://no-such-host.invalid", cache_dir=tmp_path, timeout=5.0),
        )
