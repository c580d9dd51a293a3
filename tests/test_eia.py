"""The EIA API v2 connector against a local server serving responses in the v2 shape.

The payloads below are written for these tests (invented numbers) after the documented v2
response: ``{"response": {"total": ..., "data": [{"period": ..., <column>: ...,
"<column>-units": ...}]}}``, values sometimes as strings, pages of ``length`` rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from analyzer import pipeline
from analyzer.errors import FetchError, InputError
from analyzer.fundamentals import FetchOptions, eia

KEY = "test-key-123"


def retail_rows(
    state: str, sector: str, months: list[str], sales: list[Any], prices: list[Any]
) -> list[dict[str, Any]]:
    return [
        {
            "period": m,
            "stateid": state,
            "stateDescription": state,
            "sectorid": sector,
            "sectorName": sector.lower(),
            "sales": s,
            "price": p,
            "sales-units": "million kilowatt hours",
            "price-units": "cents per kilowatt-hour",
        }
        for m, s, p in zip(months, sales, prices)
    ]


RETAIL = retail_rows(
    "VA", "COM", ["2023-01", "2023-02", "2023-03"], ["4100.5", 3900, "4200.25"], [9.1, "9.3", None]
)
CAPABILITY = [
    {
        "period": "2022",
        "stateId": "TX",
        "producertypeid": "TOT",
        "energysourceid": "NG",
        "capability": 70000,
        "capability-units": "megawatts",
    },
    {
        "period": "2022",
        "stateId": "TX",
        "producertypeid": "TOT",
        "energysourceid": "WND",
        "capability": "40000",
        "capability-units": "megawatts",
    },
    {
        "period": "2023",
        "stateId": "TX",
        "producertypeid": "TOT",
        "energysourceid": "ALL",
        "capability": 150000,
        "capability-units": "megawatts",
    },
    {
        "period": "2023",
        "stateId": "TX",
        "producertypeid": "TOT",
        "energysourceid": "NG",
        "capability": 72000,
        "capability-units": "megawatts",
    },
]


class EiaServer(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    status = 200

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        type(self).requests.append({"path": parts.path, "query": query})
        if type(self).status != 200:
            self._json(type(self).status, {"error": "denied"})
            return
        if query.get("api_key") != KEY:
            self._json(403, {"error": {"code": "API_KEY_INVALID"}})
            return
        if parts.path == "/v2/electricity/retail-sales/data/":
            rows = RETAIL if query.get("facets[stateid][]") == "VA" else []
        elif parts.path == "/v2/electricity/state-electricity-profiles/capability/data/":
            rows = CAPABILITY if query.get("facets[stateId][]") == "TX" else []
        elif parts.path == "/v2/broken/data/":
            self._json(200, {"error": "invalid route"})
            return
        else:
            self._json(404, {"error": "not found"})
            return
        offset, length = int(query.get("offset", 0)), int(query.get("length", 5000))
        page = rows[offset : offset + length]
        self._json(
            200,
            {
                "response": {"total": str(len(rows)), "dateFormat": "YYYY-MM", "data": page},
                "apiVersion": "2.1.8",
            },
        )

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    EiaServer.requests, EiaServer.status = [], 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EiaServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v2"
    finally:
        httpd.shutdown()
        httpd.server_close()


def options(base_url: str, tmp_path: Path, **extra: Any) -> FetchOptions:
    return FetchOptions(
        base_url=base_url,
        cache_dir=tmp_path / "cache",
        api_key=KEY,
        rate_per_second=100.0,
        allow_private=True,
        **extra,
    )


def test_retail_sales_pages_units_and_release_lag(
    server: str, tmp_path: Path, store, monkeypatch
) -> None:
    monkeypatch.setattr(eia, "PAGE_LENGTH", 2)
    report = pipeline.fetch_fundamentals(
        store, "eia", ["retail-sales:VA:COM"], options(server, tmp_path), entity="ai-datacenters"
    )
    assert report.errors == [] and report.requests == 2  # two pages of two rows
    sales = store.fundamentals("ai-datacenters", "electricity_sales_va_com")
    assert [(r["date"], r["value"], r["unit"]) for r in sales] == [
        ("2023-01-31", 4100.5, "million kWh"),
        ("2023-02-28", 3900.0, "million kWh"),
        ("2023-03-31", 4200.25, "million kWh"),
    ]
    assert sales[0]["filed_at"] == "2023-04-01"  # about two months after the month ends
    prices = store.fundamentals("ai-datacenters", "electricity_price_va_com")
    assert [r["value"] for r in prices] == [9.1, 9.3]  # a null price is no observation
    assert prices[0]["unit"] == "cents/kWh"
    query = EiaServer.requests[0]["query"]
    assert (
        query["frequency"] == "monthly"
        and query["data[0]"] == "sales"
        and query["facets[sectorid][]"] == "COM"
    )


def test_second_fetch_comes_from_the_cache_without_the_key_on_disk(
    server: str, tmp_path: Path, store
) -> None:
    pipeline.fetch_fundamentals(store, "eia", ["retail-sales:VA:COM"], options(server, tmp_path))
    again = pipeline.fetch_fundamentals(
        store, "eia", ["retail-sales:VA:COM"], options(server, tmp_path)
    )
    assert again.requests == 0 and again.cache_hits == 1
    cached = "".join(p.read_text() for p in (tmp_path / "cache" / "eia").iterdir())
    assert KEY not in cached and "api_key=%2A%2A%2A" in cached
    # Without --entity the rows go to the 'electricity' entity.
    assert store.fundamentals("electricity", "electricity_sales_va_com")


def test_capacity_sums_sources_unless_a_total_is_given(server: str, tmp_path: Path, store) -> None:
    pipeline.fetch_fundamentals(
        store, "eia", ["capacity:TX"], options(server, tmp_path), entity="texas"
    )
    rows = store.fundamentals("texas", "generating_capacity_tx")
    assert [(r["date"], r["value"], r["unit"]) for r in rows] == [
        ("2022-12-31", 110000.0, "MW"),
        ("2023-12-31", 150000.0, "MW"),
    ]
    assert rows[0]["filed_at"] == "2023-10-27"
    assert EiaServer.requests[0]["query"]["facets[producertypeid][]"] == "TOT"


def test_entities_link_their_series_in_entities_yaml(server: str, tmp_path: Path, store) -> None:
    store.upsert_entity(
        {
            "id": "ai-datacenters",
            "name": "AI data centers",
            "eia_series": "retail-sales:VA:COM, capacity:TX",
        }
    )
    report = pipeline.fetch_fundamentals(store, "eia", [], options(server, tmp_path))
    assert report.targets[0]["entity_id"] == "ai-datacenters" and report.errors == []
    metrics = {r["metric"] for r in store.fundamentals("ai-datacenters")}
    assert metrics == {
        "electricity_sales_va_com",
        "electricity_price_va_com",
        "generating_capacity_tx",
    }
    assert store.entity_series_links() == {"ai-datacenters": ["retail-sales:VA:COM", "capacity:TX"]}


def test_missing_key_names_the_fix_before_any_request(
    server: str, tmp_path: Path, store, monkeypatch
) -> None:
    monkeypatch.delenv(eia.API_KEY_ENV, raising=False)
    with pytest.raises(InputError, match=r"register.*ANALYZER_EIA_API_KEY"):
        pipeline.fetch_fundamentals(
            store,
            "eia",
            ["retail-sales:VA:COM"],
            FetchOptions(base_url=server, cache_dir=tmp_path / "c", allow_private=True),
        )
    assert EiaServer.requests == []
    monkeypatch.setenv(eia.API_KEY_ENV, KEY)
    report = pipeline.fetch_fundamentals(
        store,
        "eia",
        ["retail-sales:VA:COM"],
        FetchOptions(base_url=server, cache_dir=tmp_path / "c", allow_private=True),
    )
    assert report.rows_written == 5


def test_refused_key_names_the_fix_and_hides_the_key(server: str, tmp_path: Path, store) -> None:
    with pytest.raises(FetchError) as info:
        pipeline.fetch_fundamentals(
            store,
            "eia",
            ["retail-sales:VA:COM"],
            FetchOptions(
                base_url=server,
                cache_dir=tmp_path / "c",
                allow_private=True,
                api_key="wrong-secret",
            ),
        )
    message = str(info.value)
    assert (
        "API key was refused" in message
        and "--api-key" in message
        and "wrong-secret" not in message
    )


def test_rate_limited_without_recovery_says_so(server: str, tmp_path: Path, store) -> None:
    EiaServer.status = 429
    with pytest.raises(FetchError, match="try again later"):
        pipeline.fetch_fundamentals(
            store, "eia", ["retail-sales:VA:COM"], options(server, tmp_path, max_retry_wait=0.01)
        )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("retail-sales", "state id"),
        ("retail-sales:VA:XXX", "sector"),
        ("retail-sales:VA:COM:hourly", "frequency"),
        ("gas:TX", "not a series spec"),
        ("capacity:TX:NG:extra", "too many parts"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        eia.parse_spec(spec)


def test_parse_response_shapes() -> None:
    spec = eia.parse_spec("retail-sales:US:ALL:quarterly")
    assert spec.columns == {"sales": "electricity_sales", "price": "electricity_price"}
    rows, total, notes = eia.parse_response(
        {
            "response": {
                "total": 3,
                "data": [
                    {"period": "2024-Q2", "sales": 1.0},
                    {"period": "someday", "sales": 2.0},
                    "x",
                ],
            }
        },
        spec,
        "electricity",
    )
    assert (
        [(r["date"], r["value"]) for r in rows] == [("2024-06-30", 1.0)]
        and total == 3
        and len(notes) == 2
    )
    with pytest.raises(FetchError, match="invalid route"):
        eia.parse_response({"error": "invalid route"}, spec, "e")
    with pytest.raises(InputError, match="response.data"):
        eia.parse_response({"response": {"total": 0}}, spec, "e")


def test_cli_fetch_eia(server: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    db = tmp_path / "cli.db"
    result = CliRunner().invoke(
        app,
        [
            "fundamentals",
            "fetch",
            "eia",
            "retail-sales:VA:COM",
            "--db",
            str(db),
            "--base-url",
            server,
            "--api-key",
            KEY,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--entity",
            "ai-datacenters",
            "--allow-private",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_written"] == 5
