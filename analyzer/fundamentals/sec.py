"""SEC EDGAR companyfacts: revenue, capex, R&D and operating income per quarter and year.

``{base}/api/xbrl/companyfacts/CIK##########.json`` holds every XBRL fact a company filed. Each
fact carries its period (``start``/``end``), the filing it came from (``accn``, ``form``,
``filed``) and that filing's fiscal labels (``fy``, ``fp``). The fiscal labels describe the
filing, not the fact: a 10-K labelled ``fp=FY`` also carries prior-year comparatives, and a
10-Q carries both the quarter and the year-to-date. So periods are classified by their length
(about 90 days: a quarter; about a year: annual; anything else, such as six- or nine-month
year-to-date figures, is not stored), and every filing of a period is kept with its ``filed``
date so the store can answer "what was known on date D".

Fourth quarters are rarely filed on their own; when a year and the nine months before its last
quarter are both known, the fourth quarter is derived as their difference, dated as filed with
the annual report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from analyzer.errors import InputError
from analyzer.fundamentals.http import HttpClient, HttpStatusError

SOURCE_KEY = "sec"
SOURCE_NAME = "SEC"
DEFAULT_BASE_URL = "https://data.sec.gov"
RATE_PER_SECOND = 10.0  # SEC's published fair-access limit
USER_AGENT_ENV = "ANALYZER_SEC_USER_AGENT"
USER_AGENT_HELP = (
    "SEC requires a User-Agent with contact details: pass --user-agent 'Name email@example.com'"
    f" or set {USER_AGENT_ENV}"
)

# Tags tried in order for each metric; per period the first tag that has it wins, so a company
# that moved from SalesRevenueNet to the ASC 606 tags keeps one continuous series.
METRIC_TAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "revenue": {
        "us-gaap": (
            "Revenues",
            "RevenueFromContractWithCustomerExcludingAssessedTax",
            "SalesRevenueNet",
            "RevenueFromContractWithCustomerIncludingAssessedTax",
            "SalesRevenueGoodsNet",
            "SalesRevenueServicesNet",
            "RevenuesNetOfInterestExpense",
        ),
        "ifrs-full": ("Revenue", "RevenueFromContractsWithCustomers"),
    },
    "capex": {
        "us-gaap": (
            "PaymentsToAcquirePropertyPlantAndEquipment",
            "PaymentsToAcquireProductiveAssets",
            "PaymentsToAcquireOtherPropertyPlantAndEquipment",
            "PaymentsForCapitalImprovements",
        ),
        "ifrs-full": (
            "PurchaseOfPropertyPlantAndEquipmentClassifiedAsInvestingActivities",
            "PurchaseOfPropertyPlantAndEquipment",
            "PurchaseOfPropertyPlantAndEquipmentIntangibleAssetsOtherThanGoodwillInvestmentPropertyAndOtherNoncurrentAssets",
        ),
    },
    "rd": {
        "us-gaap": (
            "ResearchAndDevelopmentExpense",
            "ResearchAndDevelopmentExpenseExcludingAcquiredInProcessCost",
            "ResearchAndDevelopmentExpenseSoftwareExcludingAcquiredInProcessCost",
        ),
        "ifrs-full": ("ResearchAndDevelopmentExpense",),
    },
    "operating_income": {
        "us-gaap": ("OperatingIncomeLoss",),
        "ifrs-full": ("ProfitLossFromOperatingActivities",),
    },
}
QUARTER_DAYS = (80, 100)
YEAR_DAYS = (350, 380)
NINE_MONTH_DAYS = (260, 285)


def normalise_cik(value: str | int) -> str:
    """A 10-digit, zero-padded CIK from ``320193``, ``"0000320193"`` or ``"CIK320193"``."""
    text = str(value).strip()
    if text.upper().startswith("CIK"):
        text = text[3:].strip()
    if not text.isdigit() or len(text) > 10 or int(text) == 0:
        raise InputError(
            f"SEC: {value!r} is not a CIK (up to 10 digits, optionally prefixed 'CIK');"
            " look it up at https://www.sec.gov/edgar/searchedgar/companysearch"
        )
    return text.zfill(10)


def resolve_user_agent(user_agent: str | None, environ: dict[str, str] | None = None) -> str:
    """The User-Agent to send; raises InputError when none with contact details is given."""
    import os

    env = os.environ if environ is None else environ
    agent = (user_agent or env.get(USER_AGENT_ENV) or "").strip()
    if not agent or not re.search(r"[^\s@]+@[^\s@]+\.[^\s@]+", agent):
        raise InputError(USER_AGENT_HELP)
    return agent


@dataclass(frozen=True)
class _Fact:
    start: date
    end: date
    value: float
    filed: str
    form: str
    accn: str
    unit: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_companyfacts_text(
    text: str, entity_id: str, origin: str = "SEC companyfacts"
) -> list[dict[str, Any]]:
    """Parse a companyfacts response body; bad bodies raise InputError saying what is wrong."""
    stripped = text.lstrip()
    try:
        payload = json.loads(stripped)
    except json.JSONDecodeError as exc:
        if stripped.startswith("{'") or "': {'" in stripped[:2000]:
            raise InputError(
                f"SEC: {origin} is a Python dict repr (single quotes), not JSON; save the"
                " response body as served (json.dump, not str()) or fetch it again with --refresh"
            ) from exc
        raise InputError(f"SEC: {origin} is not valid JSON ({exc})") from exc
    return parse_companyfacts(payload, entity_id, origin=origin)


def parse_companyfacts(
    payload: Any, entity_id: str, origin: str = "SEC companyfacts"
) -> list[dict[str, Any]]:
    """Fundamentals rows from a companyfacts document.

    Quarters are stored under the plain metric name (``revenue``, ``capex``, ``rd``,
    ``operating_income``), years under ``<metric>_annual``.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("facts"), dict):
        raise InputError(
            f"SEC: {origin} has no 'facts' object; expected the companyfacts JSON from"
            " /api/xbrl/companyfacts/CIK##########.json"
        )
    facts = payload["facts"]
    rows: list[dict[str, Any]] = []
    for metric, taxonomies in METRIC_TAGS.items():
        chosen = _collect_facts(facts, taxonomies)
        rows.extend(_rows_for_metric(chosen, metric, entity_id))
    return rows


def _collect_facts(facts: dict[str, Any], taxonomies: dict[str, tuple[str, ...]]) -> list[_Fact]:
    """Facts for one metric, merged across fallback tags: per (period, filing) the first tag wins."""
    merged: dict[tuple[date, date, str], _Fact] = {}
    for taxonomy, tags in taxonomies.items():
        concepts = facts.get(taxonomy)
        if not isinstance(concepts, dict):
            continue
        for tag in tags:
            concept = concepts.get(tag)
            if not isinstance(concept, dict) or not isinstance(concept.get("units"), dict):
                continue
            unit, entries = _pick_unit(concept["units"])
            for entry in entries:
                fact = _fact_from_entry(entry, unit)
                if fact is None:
                    continue
                merged.setdefault((fact.start, fact.end, fact.accn), fact)
    return list(merged.values())


def _pick_unit(units: dict[str, Any]) -> tuple[str, list[Any]]:
    """USD when reported, else the currency with the most facts (IFRS filers report in several)."""
    lists = {unit: entries for unit, entries in units.items() if isinstance(entries, list)}
    if not lists:
        return "", []
    if "USD" in lists:
        return "USD", lists["USD"]
    unit = max(sorted(lists), key=lambda u: len(lists[u]))
    return unit, lists[unit]


def _fact_from_entry(entry: Any, unit: str) -> _Fact | None:
    if not isinstance(entry, dict):
        return None
    try:
        start = date.fromisoformat(str(entry["start"]))
        end = date.fromisoformat(str(entry["end"]))
        value = float(entry["val"])
        filed = date.fromisoformat(str(entry["filed"])).isoformat()
    except (KeyError, TypeError, ValueError):
        return None  # instants (no start) and malformed entries are not flows we can use
    return _Fact(
        start=start,
        end=end,
        value=value,
        filed=filed,
        form=str(entry.get("form") or ""),
        accn=str(entry.get("accn") or filed),
        unit=unit,
    )


def _within(days: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= days <= bounds[1]


def _rows_for_metric(facts: Iterable[_Fact], metric: str, entity_id: str) -> list[dict[str, Any]]:
    facts = sorted(facts, key=lambda f: (f.filed, f.form.endswith("/A"), f.accn))
    quarters = [f for f in facts if _within(f.days, QUARTER_DAYS)]
    years = [f for f in facts if _within(f.days, YEAR_DAYS)]
    nine_months = [f for f in facts if _within(f.days, NINE_MONTH_DAYS)]

    # Keyed by (period end, filed): a later fact from the same day (an amendment) replaces it.
    quarterly: dict[tuple[date, str], _Fact] = {(f.end, f.filed): f for f in quarters}
    annual: dict[tuple[date, str], _Fact] = {(f.end, f.filed): f for f in years}
    reported_quarter_ends = {f.end for f in quarters}
    derived: dict[tuple[date, str], tuple[float, str]] = {}
    for year in annual.values():
        if year.end in reported_quarter_ends:
            continue
        known = [
            f
            for f in nine_months
            if f.start == year.start
            and f.filed <= year.filed
            and _within((year.end - f.end).days, QUARTER_DAYS)
        ]
        if not known:
            continue
        latest = max(known, key=lambda f: (f.filed, f.accn))
        derived[(year.end, year.filed)] = (year.value - latest.value, year.unit)

    rows = [
        _row(entity_id, metric, end, value, unit, filed)
        for (end, filed), (value, unit) in sorted(
            {**{k: (f.value, f.unit) for k, f in quarterly.items()}, **derived}.items()
        )
    ]
    rows.extend(
        _row(entity_id, f"{metric}_annual", end, f.value, f.unit, filed)
        for (end, filed), f in sorted(annual.items())
    )
    return rows


def _row(
    entity_id: str, metric: str, end: date, value: float, unit: str, filed: str
) -> dict[str, Any]:
    return {
        "entity_id": entity_id,
        "metric": metric,
        "date": end.isoformat(),
        "value": value,
        "unit": unit or None,
        "source": SOURCE_KEY,
        "filed_at": filed,
    }


def fetch_companyfacts(client: HttpClient, cik: str | int, entity_id: str) -> list[dict[str, Any]]:
    """Download (or read from cache) one company's facts and parse them into rows."""
    padded = normalise_cik(cik)
    path = f"/api/xbrl/companyfacts/CIK{padded}.json"
    try:
        text = client.get_text(path)
    except HttpStatusError as exc:
        if exc.status == 404:
            raise HttpStatusError(
                f"SEC: no companyfacts for CIK{padded} (HTTP 404); check the CIK at"
                " https://www.sec.gov/edgar/searchedgar/companysearch (companies without XBRL"
                " filings have none)",
                exc.status,
                exc.url,
            ) from exc
        if exc.status == 403:
            raise HttpStatusError(
                f"SEC refused the request (HTTP 403); {USER_AGENT_HELP}, and keep to 10 requests/s",
                exc.status,
                exc.url,
            ) from exc
        raise
    return parse_companyfacts_text(text, entity_id, origin=f"the response for CIK{padded}")
