"""The claim rules on the cases real text taught them, in sentences written for these tests.

Newswire number spellings, numbers that carry no claim (dates, versions, times, counts of
things no fundamental measures, product prices), cues that govern another clause, conditions,
horizons without a year, ranges, texts of unknown publication date, and bad input that must
neither crash nor lose a reason.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analyzer.claims.check import check_claims
from analyzer.claims.extract import SentenceContext, extract_sentence
from analyzer.claims.quantities import find_quantities, normalise

PUBLISHED = date(2024, 3, 1)


def claims(text: str, published: date = PUBLISHED, known: bool = True) -> list[dict]:
    return extract_sentence(
        text, SentenceContext(published=published, entities=["acme"], published_known=known)
    )


def claim(text: str, published: date = PUBLISHED, known: bool = True) -> dict:
    found = claims(text, published, known)
    assert len(found) == 1, f"no claim found in {text!r}"
    return found[0]


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("Acme expects net sales of 48 mln euro in 2025 .", 48e6, "EUR"),
        ("Acme expects savings of EUR7 million a year from 2025 .", 7e6, "EUR"),
        ("Operating profit will be about EUR25m next year .", 25e6, "EUR"),
        ("Acme will book a gain of some 2.4 mln euro ( $ 3.1 mln ) in 2025 .", 2.4e6, "EUR"),
        ("The costs will amount to 1.5 mln euro $ 2.0 mln in 2025 .", 1.5e6, "EUR"),
        ("Acme expects revenue of EUR 12 .5 mn next year .", 12.5e6, "EUR"),
        ("Acme expects fourth-quarter revenue of $2.1 billion to $2.3 billion.", 2.2e9, "USD"),
        ("Acme expects revenue of some EUR 40 million in 2025 .", 40e6, "EUR"),
        ("Some 2.5 mln euro will be spent on the new line next year .", 2.5e6, "EUR"),
        # the original amount, not its conversion into another currency
        (
            "The offering is expected to raise some euro150 million ( US$ 190 million ) .",
            150e6,
            "EUR",
        ),
        ("Acme expects savings of euro20 million US$ 24 million a year from 2025 .", 20e6, "EUR"),
        # a range whose scale is written once, its decimal point set apart by the tokeniser
        ("Acme expects capital expenditure of EUR 0.6-1 .0 billion next year .", 0.8e9, "EUR"),
        ("Acme expects revenue of $10-12 million in 2025.", 11e6, "USD"),
    ],
)
def test_newswire_amounts_are_read_whole(text: str, value: float, currency: str) -> None:
    c = claim(text)
    assert c["magnitude_kind"] == "absolute"
    assert c["magnitude_value"] == pytest.approx(value)
    assert c["currency"] == currency


def test_a_thousands_separator_set_apart_by_the_tokeniser() -> None:
    c = claim("Acme plans to build 30,000-40 ,000 square metres of offices by 2026 .")
    assert c["magnitude_value"] == pytest.approx(35_000)


def test_spaced_thousands_and_their_span() -> None:
    text = "After the merger, the number of B shares will be 4 210 000 ."
    normalised, origin = normalise(text)
    assert "4210000" in normalised and len(origin) == len(normalised) + 1
    (quantity,) = [q for q in find_quantities(text, "en") if q.value > 1000]
    assert quantity.value == 4_210_000 and quantity.surface == "4 210 000"
    c = claim(text)
    assert (c["metric"], c["magnitude_unit"], c["magnitude_value"]) == ("other", "shares", 4.21e6)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (
            "The plant will produce close to 900 tonnes of pulp per day .",
            {"metric": "capacity", "magnitude_value": 900.0},
        ),
        (
            "Acme plans to recruit more than 300 new staffers for its new unit .",
            {"metric": "other", "magnitude_value": 300.0, "magnitude_unit": "staffers"},
        ),
        (
            "The government aims to sell half its stake in the lender within three years.",
            {"magnitude_kind": "multiplier", "magnitude_value": 0.5, "direction": "down"},
        ),
        (
            "The team will grow to twelve persons in spring 2025 .",
            {"magnitude_value": 12.0, "horizon": "2025-05-31", "horizon_kind": "season"},
        ),
        (
            "Acme will lay off 250 workers at its plant at the end of October .",
            {"magnitude_value": 250.0, "horizon": "2024-10-31"},
        ),
        (
            "Acme will cut 80 jobs by the end of the year .",
            {"horizon": "2024-12-31"},
        ),
        (
            "Analysts expect second-quarter sales to rise 8% from a year earlier.",
            {"magnitude_kind": "percent", "horizon": "2024-06-30"},
        ),
        (
            "Acme expects its net profit to rise 15 % next year .",
            {"metric": "revenue", "magnitude_kind": "percent", "horizon": "2025-12-31"},
        ),
        (
            "Shares could rally to $150 within a year, the analyst said.",
            {"metric": "price", "magnitude_value": 150.0, "speaker": "analyst"},
        ),
        (
            "The new mill will have a yearly capacity of 400,000 tonnes .",
            {"metric": "capacity", "magnitude_value": 400000.0},
        ),
        (
            "Acme plans to invest about 40 million euros in its plant next year .",
            {"metric": "capex", "magnitude_value": 40e6},
        ),
        (
            "A further $2 billion is budgeted for new lines over the next three years.",
            {"metric": "capex", "magnitude_value": 2e9},
        ),
        (
            "Acme will cut 40 investment bank jobs next year .",
            {"metric": "other", "magnitude_value": 40.0},
        ),
        (
            "A rival bid could value the retailer at £900 million.",
            {"metric": "market_cap", "magnitude_value": 9e8},
        ),
        (
            "The members of the board will take a pay cut of 10 % next year .",
            {"metric": "other", "magnitude_kind": "percent"},
        ),
        (
            "The closures are expected to produce annual savings of EUR 3 million from 2025 .",
            {"metric": "other", "magnitude_value": 3e6},
        ),
        (
            "Acme expects the strike to cause daily losses of EUR 1 mn next week .",
            {"metric": "revenue", "magnitude_value": 1e6},
        ),
        (
            "Acme aims to raise its dividend pay-out ratio to 40 pct in 2026",
            {"magnitude_kind": "share", "magnitude_value": 40.0},
        ),
        (
            "Economists expect the bond yield to climb to 3.5 percent by 2026.",
            {"magnitude_kind": "absolute", "magnitude_value": 3.5},
        ),
        (
            "Analysts expect the growth rate to pick up to 5% next year.",
            {"magnitude_kind": "percent", "magnitude_value": 5.0},
        ),
        (
            "According to the chairman the aim is double turnover over the next three years .",
            {"magnitude_kind": "multiplier", "horizon": "2027-03-01", "hedge": "aspirational"},
        ),
        (
            "The second phase envisages the completion of some 40,000 sq m of offices in May 2025 .",
            {"magnitude_value": 40000.0, "horizon": "2025-05-31"},
        ),
        (
            "Acme aims to file up to 12 new drugs for approval by 2027",
            {"magnitude_value": 12.0, "magnitude_unit": "drugs", "hedge": "possible"},
        ),
        (
            "Acme estimates that it will hire 30 specialists for its new unit by the end of 2025 .",
            {"magnitude_value": 30.0, "magnitude_unit": "specialists", "horizon": "2025-12-31"},
        ),
        (
            "UPDATE 2-Acme to cut 500 jobs as part of 2-year restructuring plan",
            {"magnitude_value": 500.0, "direction": "down", "horizon": "2026-03-01"},
        ),
    ],
)
def test_claims_real_text_taught_us(text: str, fields: dict) -> None:
    c = claim(text)
    assert {k: c[k] for k in fields} == fields


@pytest.mark.parametrize(
    "text",
    [
        # dates, times, versions, references, model names
        "The results will be published on October 24 , 2024 at 9 am .",
        "The new release will run on both Gtk3 and Gtk4.",
        "Version 3.2 will ship later this year.",
        "That fix will land in the next point release after Go 1.21.",
        "We will need a scheme similar to the one in [4] for that.",
        "A 4K screen would help here.",
        # articles read as one, counts of things no fundamental measures
        "This approach may need a bit more memory.",
        "You could write a rule that rejects functions longer than 40 lines.",
        "The sauce should be enough for 6 servings.",
        "It looks like there will be 4 kinds of plugins.",
        "Each block would be 16 kB on disk.",
        # product prices
        "We will also hand out a $25 voucher to every guest.",
        "Maybe it will cost more, but no more than the $30 adapters sold today.",
        # frequencies and adjectival multipliers
        "By that measure the favourite should have won 40 times out of 60, not 35 times.",
        "The review covers new guidance, triple therapy and earlier screening.",
        "The tale has two halves, and the second should be shorter.",
        # past results; a cue in another clause
        "Acme shares climb 4% as the company raises its forecasts",
        "The news pushed Acme shares down 5.1 % as traders gave up hope a rival would bid .",
        "Acme reports net sales of EUR 41.2 mn in the third quarter of 2007 .",
        "The purchase in 2008 weighed on the result by EUR 2.5 mn .",
        # hedge words used as something else: a noun, a forecast reported as history, a move
        "The founder has left $20 million to charity in a living will.",
        "A portfolio of projects and a yearly capacity of 50,000 tonnes make Acme a leader .",
        "The first estimate was for about 40 job cuts , the company said .",
        "Acme 's net profit went up to EUR 3.2 mn in 2006 .",
        # an infinitive after a past verb: done or decided, not ahead
        "Acme was forced to cut 300 jobs.",
        "The firm agreed to build 40 homes on the site.",
        "The unit managed to cut costs by 10%.",
        # "up to" bounds an amount without looking ahead
        "Acme sells its chemicals unit to Beta for up to $250 mln",
        "Tickets are free for parties of up to 12 people.",
        # a cue that governs a later verb, after a past one
        "Around 40 % of the order was delivered in 2023 and the rest will be delivered in 2025 .",
        # one-off payments and the prices of deals, not the size of a fundamental
        "Under the deal , the $2.5 billion will be paid to the parent in cash .",
        "The new chairman will be paid £400,000 and join the board in May.",
        "Beta will pay Acme $150 million for the patents.",
        "Acme will fund the purchase through a 4.2 mln euro $ 5.5 mln loan .",
        "Acme and Beta agree terms of 3.1 billion pound merger",
        "The town could forfeit up to $40m (£31m) in state grants.",
        "The winner will receive a prize of $1 million.",
        "Beta could bid as much as $4 billion for the business.",
        "The firm will be sold to Beta for about $700 million.",
        "Beta will acquire 60 % of Acme 's shares .",
        "Acme plans to sell a 10% stake in its unit.",
        # the size of one group and the amounts of a design's items
        "Our team of 12 engineers will present at the conference.",
        "Each block will contain up to 1,000 transactions.",
        "The fee will be 0.3% of each trade.",
        "The new version will support up to 64 GPUs per cluster.",
        # counts that are already there: a possessor's, what a business employs
        "Acme has 400 employees and will open a plant in 2025.",
        # a cue or a deadline after an "and" governs the other conjunct
        "The event is open to teams of up to 8 people and will run again next year.",
        "Acme sold 3 million phones in 2023 and will launch a new one in 2024.",
        "The mill 's 120 workers will move to the new owner from March 2025 .",
        "The unit , which employs 35 people , will be sold .",
        # a product's specification, a calculation, a hypothesis, a model name
        "Acme will deliver inverters in the power range from 50 kW up to 1 MW .",
        "A plain table would theoretically fit 5 billion records into 320GB.",
        "Replacing 5 percent of the fleet per year would create a boom for suppliers.",
        "4 × 10 gbps links would give a lot of bandwidth.",
        "Each entry would need 48 bytes , so 2 billion entries would take 96 GB .",
        "Two nodes with 0.99 uptime would have 0.99 * 0.99 = 0.98 uptime together.",
        "The update will reach the Edge 7X gets later, the company said.",
        "Prices are fine for groups of up to 30 people — beyond that the venue will charge.",
        # sums, conditions and questions
        "The shares may not add up to 100% because of rounding.",
        "If we are going to borrow for the next 20+ years, we should get roads for it.",
        "Will revenue double next year?",
    ],
)
def test_numbers_that_carry_no_claim(text: str) -> None:
    assert claims(text, known=False) == [] and claims(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Interest payments will reach $500 billion a year by 2030.", 5e11),
        ("Acme will lift its 40 stores to 60 stores by 2026 .", 60.0),
        ("Acme expects to raise about $200 million in the share offering next year.", 2e8),
        ("Acme expects to pay down debt to $2 billion by 2025.", 2e9),
        ("Acme is scheduled to open 25 stores this year.", 25.0),
        ("Acme expects earnings of $3.20 per share next year.", 3.2),
        ("The network will process 100,000 transactions per second by 2026.", 1e5),
        ("Acme aims to take a 20% share of the European market by 2030.", 20.0),
        ("The share capital will be increased by EUR 120,000 to EUR 1.5 mn .", 1.5e6),
        ("Acme to build 40 new plants in Texas", 40.0),
        ("Analysts see revenue rising to as much as $12 billion in 2025.", 12e9),
        ("The merger is expected to produce cost savings of $300 million a year by 2026.", 3e8),
    ],
)
def test_amounts_that_stay_claims_beside_those_rules(text: str, value: float) -> None:
    assert claim(text)["magnitude_value"] == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (
            "Acme sales rose 5% in 2023 and are expected to grow 8% in 2025.",
            {"magnitude_value": 8.0, "horizon": "2025-12-31"},
        ),
        (
            "Acme has invested $1 billion so far — with a further $3 billion budgeted for 2026 .",
            {"metric": "capex", "magnitude_value": 3e9, "horizon": "2026-12-31"},
        ),
    ],
)
def test_a_later_number_carries_the_claim_when_the_first_reports_the_past(
    text: str, fields: dict
) -> None:
    c = claim(text)
    assert {k: c[k] for k in fields} == fields


def test_up_to_sets_the_hedge_beside_another_cue() -> None:
    c = claim("Acme expects sales of up to $5 billion by 2026.")
    assert (c["hedge"], c["magnitude_value"]) == ("possible", 5e9)
    assert claim("Acme plans to hire up to 300 engineers next year .")["hedge"] == "possible"


def test_a_past_year_is_a_report_only_when_the_date_is_known() -> None:
    text = "Acme expects net sales of 30 mln euro for 2007 ."
    assert claims(text, date(2015, 1, 1)) == []
    c = claim(text, date(2015, 1, 1), known=False)
    assert c["horizon"] == "2007-12-31" and c["magnitude_value"] == pytest.approx(30e6)
    # A relative horizon still resolves against the stand-in date.
    assert claim("Acme will open 12 stores next year .", date(2015, 1, 1), known=False)[
        "horizon"
    ] == ("2016-12-31")


def test_a_horizon_is_only_a_time_the_claim_states() -> None:
    # A dateline with the comma set apart is the publication day, not a deadline.
    text = "( Wire ) - Mar 3 , 2024 - Acme said its unit would cut 25 jobs in Spain ."
    assert claim(text, date(2024, 3, 3))["horizon"] is None
    # The year of a plan in another clause dates the plan, not the cut.
    assert claim("Acme Will Cut 600 Jobs, Close 20 Stores as Part of 2026 Plan")["horizon"] is None
    # A range of years falls due at its far end.
    c = claim(
        "Acme expects its capital expenditure in the next four to five years to be EUR 2 billion .",
        date(2015, 1, 1),
        known=False,
    )
    assert (c["metric"], c["horizon"]) == ("capex", "2020-01-01")


def test_an_unparseable_horizon_leaves_the_claim_pending_with_the_reason() -> None:
    c = claim("Acme expects revenue to double by February 30, 2026.")
    assert c["horizon"] is None and "could not resolve the horizon" in c["horizon_error"]
    fundamentals = pd.DataFrame(
        [
            {
                "entity_id": "acme",
                "metric": "revenue",
                "date": "2023-12-31",
                "value": 100.0,
                "unit": "USD",
                "source": "test",
                "filed_at": "2024-02-01",
            }
        ]
    )
    frame = pd.DataFrame([{**c, "claim_key": "k", "published_at": PUBLISHED.isoformat()}])
    result = check_claims(frame, fundamentals, as_of="2027-06-01").iloc[0]
    assert result["status"] == "pending"
    assert "could not resolve the horizon" in result["status_reason"]


@pytest.mark.parametrize(
    "text",
    [
        "9" * 400,
        "$$$ 1e999 % by 2026 will",
        "Revenue will triple by Q9 2099999.",
        "will " * 300 + "double",
        "\x00\ufffd revenue ×× will 10x ¥¥ by",
        "It could reach 1,2,3,4,5 million units from to by",
    ],
)
def test_odd_sentences_never_crash(text: str) -> None:
    found = claims(text)
    assert isinstance(found, list) and len(found) <= 1
