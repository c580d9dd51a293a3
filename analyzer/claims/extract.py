"""Quantified forward-looking claims from scored sentences, by rules.

:func:`extract_claims` is a pure function: (sentences frame, documents frame) -> claims frame.
Only sentences whose *growth* probability is at least ``growth_threshold`` are read
(:data:`DEFAULT_GROWTH_THRESHOLD`); sentences without a growth score (a language the model was
not trained on, such as Japanese with the English model) are read too unless
``include_unscored=False``, because the rules below are strict enough on their own.

A sentence holds a claim when it

1. looks ahead: a hedge or modal ("will", "expects", "could", "aims to", 見込み, 目指す) or a
   deadline in the future ("by 2026", "within two years", 「2030年までに」), and does not
   merely report a past result ("revenue rose 94%" with no forward cue);
2. puts a number on a change or a level: a multiplier ("triple", "1000x", 3倍), a percentage
   change ("grow 40%"), or an absolute target ("a $1 trillion market", "10 GW", "20,000 GPUs");
   the number must be one a fundamental could measure (:func:`_claimable`: not a date, version,
   time, reference or statistic, not a count of things no fundamental counts, not a small sum
   that is a product's price, not "triple therapy" or "won 43 times", not a one-off payment or
   the price of a deal (:func:`_is_transaction`), not a count already there ("its 250 staff",
   "employs 10 people"), not the span of a product's specification);
3. has its cue in the number's own clause, or before it with only commas between
   (:func:`_governing_hedge`; a cue after the number with a past verb or an "and" between
   governs another verb, and "up to" alone bounds an amount without looking ahead), and is
   neither a condition ("if ...", "theoretically"), a calculation, nor a question.

With ``SentenceContext(published_known=False)`` (a stand-in publication date) relative
horizons resolve against the stand-in but no stated date is ruled out as past.

One claim per sentence: the strongest magnitude (multiplier, then percentage change, then an
absolute target, then a share of a total; when it carries no claim, the strongest after it)
with its metric, direction, baseline, horizon, hedge
level and speaker. See :data:`CLAIM_COLUMNS` for the fields.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from analyzer.claims import vocabulary as vocab
from analyzer.claims.horizons import Horizon, choose_horizon, find_horizons
from analyzer.claims.quantities import (
    COUNT,
    CURRENCY,
    MULTIPLIER,
    PERCENT,
    PHYSICAL,
    Quantity,
    find_quantities,
    is_japanese,
)
from analyzer.errors import InputError

EXTRACTOR_VERSION = "rules-2"
DEFAULT_GROWTH_THRESHOLD = 0.5
METHOD_RULES = "rules"

# Magnitude kinds, strongest first.
MAGNITUDE_KINDS = ("multiplier", "percent", "absolute", "share")

CLAIM_COLUMNS = (
    "claim_key",
    "document_id",
    "sentence_index",
    "claim_index",
    "sentence",
    "sentence_hash",
    "entity_id",
    "entity_source",
    "metric",
    "metric_text",
    "direction",
    "magnitude_kind",
    "magnitude_value",
    "magnitude_unit",
    "currency",
    "per_year",
    "baseline_value",
    "baseline_unit",
    "baseline_source",
    "claimed_change",
    "horizon",
    "horizon_kind",
    "horizon_text",
    "horizon_error",
    "hedge",
    "hedge_text",
    "speaker",
    "speaker_text",
    "published_at",
    "language",
    "growth",
    "method",
    "extractor_version",
)


# --------------------------------------------------------------------------- word matching


@lru_cache(maxsize=64)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # "may" only in lower case: "May 2025" is a month.
    loose = sorted((w for w in words if w != "may"), key=len, reverse=True)
    body = "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in loose)
    strict = "|(?-i:may)" if "may" in words else ""
    return re.compile(rf"(?<![\w-])(?:{body}{strict})(?![\w-])", re.IGNORECASE)


def find_words(
    text: str, words: Sequence[str], japanese: bool = False
) -> list[tuple[int, int, str]]:
    """(start, end, matched) for each cue word in ``text``; substrings in Japanese."""
    if japanese:
        found = []
        for word in words:
            for match in re.finditer(re.escape(word), text):
                found.append((match.start(), match.end(), match[0]))
        return sorted(found)
    return [(m.start(), m.end(), m[0]) for m in _word_pattern(tuple(words)).finditer(text)]


# --------------------------------------------------------------------------- one sentence


@dataclass
class SentenceContext:
    """What the rules need besides the text: when it was published and who it is about."""

    published: date
    language: str | None = None
    entities: Sequence[str] = ()
    document_entities: Sequence[str] = ()
    document_kind: str | None = None
    # False when ``published`` is a stand-in: relative horizons still resolve against it, but
    # no stated date is taken to be in the past (the text may be older than the stand-in).
    published_known: bool = True


@dataclass
class RuleClaim:
    fields: dict[str, Any] = field(default_factory=dict)


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    if a[1] <= b[0]:
        return b[0] - a[1]
    if b[1] <= a[0]:
        return a[0] - b[1]
    return 0


def _clause_before(text: str, position: int, width: int = 48) -> str:
    return text[max(0, position - width) : position]


def _is_change(text: str, quantity: Quantity, japanese: bool) -> tuple[bool, str]:
    """Whether a percentage is a change, and its direction ('up'/'down')."""
    before = _clause_before(text, quantity.start, 40)
    after = text[quantity.end : quantity.end + 30]
    if japanese:
        window = before[-12:] + after[:12]
        if any(w in window for w in vocab.DOWN_WORDS_JA):
            return True, "down"
        if any(w in window for w in vocab.UP_WORDS_JA):
            return True, "up"
        return False, "up"
    down = find_words(before, vocab.DOWN_WORDS) + [
        w
        for w in find_words(after[:20], vocab.DOWN_WORDS)
        if w[2].lower() in ("decline", "drop", "reduction", "cut", "decrease", "fall", "lower")
    ]
    up = find_words(before, vocab.UP_WORDS) + [
        w
        for w in find_words(
            after[:20], ("growth", "increase", "rise", "higher", "gain", "jump", "expansion")
        )
    ]
    if re.search(r"\badds?\s+(?:up\s+)?to\s*$", before, re.I):
        return False, "up"  # "add up to 100%": a sum, not a change
    if re.match(r"\s*(?:of|share)\b", after) and not up and not down:
        return False, "up"
    if down and (not up or down[-1][0] > up[-1][0]):
        return True, "down"
    if up:
        return True, "up"
    return False, "up"


def _is_share(text: str, quantity: Quantity) -> bool:
    return (
        re.match(
            r"\s*(?:of|share\s+of)\s+(?:the\s+|all\s+|global\s+|world\s+|US\s+|U\.S\.\s+)?\w",
            text[quantity.end :],
        )
        is not None
    )


def _per_year(text: str, quantity: Quantity) -> bool:
    window = text[max(0, quantity.start - 30) : quantity.end + 40].lower()
    return (
        any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", window) for w in vocab.PER_YEAR_WORDS)
        or "年率" in window
        or "年平均" in window
    )


def _explicit_baseline(
    text: str, target: Quantity, quantities: Sequence[Quantity]
) -> Quantity | None:
    """X in "from X to Y" (or "X ... to Y") when X has the target's kind and unit."""
    for other in quantities:
        if other is target or other.end > target.start or other.kind != target.kind:
            continue
        between = text[other.end : target.start]
        before = text[max(0, other.start - 14) : other.start]
        from_to = re.search(r"\bfrom\b", before, re.I) and re.search(r"\bto\b", between, re.I)
        if from_to or (
            "から" in between and re.search(r"[にへ]|まで", text[target.end : target.end + 3])
        ):
            if other.unit == target.unit or (
                other.kind == CURRENCY and other.currency == target.currency
            ):
                return other
    return None


# "as" joins clauses ("... as demand slows") but not in "as much as", "as well as", "such as".
_AS_CONJUNCTION = (
    r"(?<!much)(?<!many)(?<!high)(?<!low)(?<!little)(?<!far)(?<!well)(?<!such)(?<!long)"
    r"\sas(?!\s+(?:much|many|high|low|little|far|well|long|soon)\b)"
)
_CLAUSE_BOUNDARY = re.compile(
    rf",\s|;\s|:\s|\s*—\s*|\s–\s|\s--\s|{_AS_CONJUNCTION}\s|\s(?:because|while|since|after|when|but|which|thanks to|amid|driven by|on the back of)\s",
    re.IGNORECASE,
)
_PRICE_MOVE = re.compile(
    r"\b(?:go|goes|going|run|runs|rally|rallies|return|returns|pump|moon)\s+(?:another\s+)?$", re.I
)


def _clause(text: str, quantity: Quantity) -> tuple[int, int]:
    """The clause around a number: from the last boundary before it to the first after it."""
    start = 0
    for match in _CLAUSE_BOUNDARY.finditer(text, 0, quantity.start):
        start = match.end()
    after = _CLAUSE_BOUNDARY.search(text, quantity.end)
    return start, after.start() if after else len(text)


_NOT_SPENDING_AFTER = re.compile(
    r"[\s-]+(?:bank|banks|banking|banker|bankers|fund|funds|firm|grade|house|group|advisers?|advisors?)\b",
    re.I,
)
_VALUATION_BEFORE = re.compile(
    r"\bvalu(?:e|es|ed|ing)\s+(?:[\w'’-]+\s+){0,4}?at\s+(?:about\s+|around\s+|some\s+|up\s+to\s+|more\s+than\s+|over\s+|nearly\s+|roughly\s+)?$",
    re.I,
)


def _metric_for(text: str, quantity: Quantity, japanese: bool) -> tuple[str, str | None]:
    """The claim's metric, from the words around its number (see :data:`vocab.METRIC_PRIORITY`).

    Within the number's clause, metric words before it are tried first, the most specific
    winning ("fees users pay for compute" is about fees); then the nearest after it; then the
    unit (GW is capacity, TWh energy); "could go 10x" is a price move.
    """
    words = vocab.METRIC_WORDS_JA if japanese else vocab.METRIC_WORDS
    start, end = (0, len(text)) if japanese else _clause(text, quantity)
    found: list[tuple[int, int, str, str]] = []
    for metric, cues in words.items():
        for s, e, matched in find_words(text[start:end], cues, japanese):
            s, e = s + start, e + start
            if s < quantity.end and quantity.start < e and metric not in ("capacity", "energy"):
                continue
            if metric == "revenue" and re.match(r"\s*margins?\b", text[e:]):
                continue  # "profit margin" is a margin, not an earnings figure
            if metric == "capex" and re.match(_NOT_SPENDING_AFTER, text[e:]):
                continue  # "investment bank", "investment fund": no spending
            if metric == "users" and re.match(r"\s+of\b", text[e:]):
                continue  # "the members of the board" belong to a group, they use nothing
            if (
                metric == "capacity"
                and matched.lower() == "produce"
                and not (
                    0 <= quantity.start - e < 24
                    and not re.search(r"\bof\b", text[e : quantity.start])
                )
            ):
                continue  # "produce savings of EUR 2 mn": only "produce 900 tonnes" is output
            if metric == "price" and quantity.kind == COUNT:
                continue  # "9,540,000 shares" counts shares, it does not price them
            found.append((s, e, metric, matched))
    if _VALUATION_BEFORE.search(text[max(0, quantity.start - 60) : quantity.start]):
        return "market_cap", "value ... at"  # "could value the firm at £1.3 billion"
    before = [f for f in found if f[1] <= quantity.end]
    after = [f for f in found if f[1] > quantity.end]
    chosen: tuple[str, str] | None = None
    if japanese and found:
        nearest = min(
            found,
            key=lambda f: (
                _distance((f[0], f[1]), (quantity.start, quantity.end))
                + (10 if f[2] == "other" else 0)
            ),
        )
        chosen = (nearest[2], nearest[3])
    elif before:
        best = min(before, key=lambda f: (vocab.METRIC_PRIORITY.index(f[2]), quantity.start - f[1]))
        chosen = (best[2], best[3])
    elif after:
        best = min(after, key=lambda f: (f[0] - quantity.end) + (10 if f[2] == "other" else 0))
        chosen = (best[2], best[3])
    unit_metric = None
    if quantity.unit == "TWh":
        unit_metric = "energy"
    elif quantity.unit == "GW":
        unit_metric = "capacity"
    elif quantity.kind == COUNT and quantity.unit:
        for metric in ("users", "capacity"):
            if quantity.unit in vocab.METRIC_WORDS[metric]:
                unit_metric = metric
    if unit_metric and (chosen is None or chosen[0] in ("other", "revenue", "price")):
        return unit_metric, quantity.unit
    if (
        chosen is None
        and quantity.kind == MULTIPLIER
        and _PRICE_MOVE.search(text[: quantity.start])
    ):
        return "price", quantity.surface
    if chosen is None:
        return "other", None
    return chosen


HEDGE_LEVELS = ("possible", "aspirational", "expected", "firm")

# A word of a hedge list used as something else: the noun "will" ("a living will", "the will
# of the people"), the noun "projects" ("a portfolio of projects"), a forecast reported as
# history ("the estimate was", "had expected") and "up to" after a verb of motion ("profit
# went up to EUR 8 mn").
_NOT_A_CUE_BEFORE = {
    "will": re.compile(r"\b(?:a|the|his|her|their|its|living|free|good|political|ill)\s+$", re.I),
    "projects": re.compile(
        r"\b(?:a|an|the|of|its|their|our|his|her|new|these|those|such|and|or|in|on|for|with|"
        r"many|several|other|all|some|key|major|large|big|\d+)\s+$",
        re.I,
    ),
    "up to": re.compile(
        r"\b(?:went|go|goes|going|gone|moved|rose|climbed|jumped|shot|edged|came|ran)\s+$", re.I
    ),
}
_NOT_A_CUE_AFTER = {"will": re.compile(r"\s+of\b", re.I)}
_REPORTED_CUE_BEFORE = re.compile(r"\bhad\s+(?:been\s+)?$", re.I)
_REPORTED_CUE_AFTER = re.compile(r"\s+(?:was|were|had\s+been)\b", re.I)
# A past verb before an infinitive cue, except participles that look ahead ("is scheduled to").
_PAST_BEFORE_INFINITIVE = re.compile(
    r"\b(?:(?!(?:expected|projected|predicted|forecasted|scheduled|planned|slated|poised|"
    r"destined|intended|committed|targeted|designed|prepared|aimed)\b)[a-z]+ed|was|were|had|did)"
    r"\s+$",
    re.I,
)
# Cues that bound an amount ("up to $300 mln") without saying it lies ahead: they set the
# hedge level of a claim, but a sentence needs another cue or a deadline to be one.
AMOUNT_LIMITERS = ("up to", "as much as", "as high as")


def find_cues(
    text: str, level: str, start: int = 0, end: int | None = None
) -> list[tuple[int, int, str]]:
    """(start, end, matched) for each English hedge cue of ``level`` in ``text[start:end]``,
    positions in ``text``; words of the hedge lists used otherwise are left out."""
    end = len(text) if end is None else end
    found = []
    for s, e, matched in find_words(text[start:end], vocab.HEDGE_WORDS[level]):
        s, e = s + start, e + start
        word = matched.lower()
        before, after = text[max(0, s - 40) : s], text[e : e + 20]
        if word in _NOT_A_CUE_BEFORE and _NOT_A_CUE_BEFORE[word].search(before):
            continue
        if word in _NOT_A_CUE_AFTER and _NOT_A_CUE_AFTER[word].match(after):
            continue
        if _REPORTED_CUE_BEFORE.search(before) or _REPORTED_CUE_AFTER.match(after):
            continue
        if word.startswith("to ") and _PAST_BEFORE_INFINITIVE.search(before):
            continue  # "was forced to cut 300 jobs", "agreed to build 40 homes": done or decided
        found.append((s, e, matched))
    return found


def _hedge(text: str, japanese: bool) -> tuple[str, str | None]:
    if not japanese:
        for level in HEDGE_LEVELS:
            found = find_cues(text, level)
            if found:
                return level, found[0][2]
        return "unmarked", None
    for level in HEDGE_LEVELS:
        found = find_words(text, vocab.HEDGE_WORDS_JA[level], japanese)
        if found:
            return level, found[0][2]
    return "unmarked", None


def _speaker(text: str, context: SentenceContext, japanese: bool) -> tuple[str, str | None]:
    analyst = find_words(
        text, vocab.ANALYST_WORDS_JA if japanese else vocab.ANALYST_WORDS, japanese
    )
    company = find_words(
        text, vocab.COMPANY_WORDS_JA if japanese else vocab.COMPANY_WORDS, japanese
    )
    quoted = any(mark in text for mark in vocab.QUOTE_MARKS)
    if analyst and not (company and company[0][0] < analyst[0][0]):
        return "analyst", analyst[0][2]
    if company:
        return "company", company[0][2]
    if context.document_kind in ("whitepaper", "filing", "press"):
        return "company", context.document_kind
    if quoted or re.search(r"\b(?:said|says|told|according to)\b", text):
        return "quoted", "quote"
    return "writer", None


def _looks_ahead(
    text: str, hedge: str, horizon: Horizon | None, japanese: bool, magnitude: Quantity
) -> bool:
    if horizon is not None and horizon.deadline and horizon.due is not None:
        if hedge != "unmarked":
            return True
        # A deadline alone ("Revenue to double by 2026") looks ahead unless a past-tense verb
        # carries the number ("revenue doubled by 2026" read in 2027 has no future horizon
        # anyway) or comes between it and the deadline ("40% was delivered in 2023 and the
        # rest ... in 2025"); a deadline after an "and" dates the other conjunct.
        before = _clause_before(text, magnitude.start, 60)
        between = text[magnitude.end : horizon.start] if horizon.start > magnitude.end else ""
        if not japanese and re.search(r"\band\b", between):
            return False
        return japanese or not find_words(
            before + " " + magnitude.surface + " " + between, vocab.PAST_WORDS
        )
    if hedge == "unmarked":
        return False
    if japanese:
        return True
    # A hedge that governs a past result ("said revenue rose 20%") does not make a claim.
    before = _clause_before(text, magnitude.start, 30)
    past = find_words(before, vocab.PAST_WORDS)
    hedges = sorted(w for level in HEDGE_LEVELS for w in find_cues(text, level, 0, magnitude.start))
    return not past or bool(hedges and hedges[-1][0] > past[-1][0])


_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|"
    r"trillion|dozen)\b",
    re.IGNORECASE,
)
_MONTH_BEFORE = re.compile(
    r"\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?\s*$"
)
# A multiplier word leads a claim when a modal or "to" (or a metric) comes just before it
# ("will triple", "to double", "revenue doubles") or a complement just after it ("double by
# 2026", "triple its sales"); "triple therapy" and "two halves" are neither.
_MULTIPLIER_LEADS = (
    "will",
    "would",
    "could",
    "may",
    "might",
    "can",
    "should",
    "to",
    "'ll",
    "must",
    "likely",
)
_MULTIPLIER_FOLLOWS = re.compile(
    r"\s*(?:$|[,.;:)!]|(?:in|by|from|over|within|its|their|his|her|our|this|that|these|"
    r"the|next|again|to|and|or|before|after|revenue|sales|turnover|profits?|earnings|capacity|"
    r"output|users|production|prices?|value)\b)",
    re.IGNORECASE,
)
_FREQUENCY = re.compile(
    r"\s*(?:out\s+of|a\s+(?:day|week|month|minute|second|year|game|season)|per\b|each\b|"
    r"every\b|as\s+(?:likely|often|long|fast|many\s+times))",
    re.IGNORECASE,
)


def _counted_noun(text: str, quantity: Quantity) -> str | None:
    """What a bare count counts, when a claim may be about it ("700 workers", "ten persons")."""
    nouns = vocab.COUNTED_NOUNS + vocab.METRIC_WORDS["users"] + vocab.METRIC_WORDS["capacity"]
    if quantity.unit and quantity.unit.lower() in nouns:
        return quantity.unit.lower()
    # Up to three words after the number ("650 new staffers", "150 investment bank jobs").
    after = re.match(r"(?:\s+[A-Za-z][\w-]*){1,4}", text[quantity.end :])
    if after:
        words = after[0].split()
        cut = next(
            (i for i, w in enumerate(words) if w.lower() in ("of", "at", "in", "for", "to", "by")),
            len(words),
        )
        found = find_words(" ".join(words[:cut]), nouns)
        if found:
            return found[0][2].lower()
    # "the number of shares will be 9,540,000".
    before = re.search(r"\bnumber\s+of\s+((?:[\w-]+\s+){0,2}[\w-]+)", text[: quantity.start])
    if before:
        found = find_words(before[1], nouns)
        if found:
            return found[-1][2].lower()
    return None


def _multiplier_is_claim(text: str, quantity: Quantity) -> bool:
    after = text[quantity.end :]
    if _FREQUENCY.match(after):
        return False  # "49 times out of 65", "three times a day"
    if re.search(r"\btimes\b", quantity.surface):
        # "three times as large", "grow five times": a multiple; "won 43 times": a count.
        if re.match(
            r"\s*(?:as|more|larger|higher|bigger|greater|faster|the|that|its|their|over|from)\b",
            after,
            re.I,
        ):
            return True
        verbs = vocab.UP_WORDS + vocab.DOWN_WORDS + ("multiply", "multiplied")
        return bool(find_words(_clause_before(text, quantity.start, 25), verbs))
    if re.search(r"\d", quantity.surface):
        if re.match(r"\s*\d", after):
            return False  # "10 × 1 gbps": arithmetic
        if (
            re.fullmatch(r"\d+X", quantity.surface)
            and re.search(r"\b[A-Z][a-z]+\s+$", text[: quantity.start])
            and not _MULTIPLIER_FOLLOWS.match(after)
        ):
            return False  # "the Fenix 5X gets": a model name
        return True  # "1000x", "10-fold"
    words = re.findall(r"[A-Za-z'][\w'-]*|\d[\d.,]*|[,;:]", text[: quantity.start])[-3:]
    if words and (
        words[-1].lower() in ("a", "an", "the", "second", "first", "two")
        or re.fullmatch(r"\d[\d.,]*", words[-1])
    ):
        return False  # "a double", "two halves"
    if "," in words or ";" in words:
        words = words[max(i for i, w in enumerate(words) if w in ",;") + 1 :]
    if any(w.lower() in _MULTIPLIER_LEADS for w in words):
        return True
    if find_words(" ".join(words), [w for ws in vocab.METRIC_WORDS.values() for w in ws]):
        return True
    return _MULTIPLIER_FOLLOWS.match(after) is not None


# "sells the unit to Beta for $300 mln": the price of a sale or purchase.
_SALE_FOR = re.compile(
    r"\b(?:sells?|sold|selling|sale|buys?|bought|buying|acquires?|acquired|acquiring|"
    r"purchases?|purchased)\b.*\bfor\s+(?:about\s+|around\s+|some\s+|an?\s+)?$",
    re.IGNORECASE,
)
# "could bid as much as $4 billion", "offered $2 bn": the price put on a deal.
_BID_OF = re.compile(
    r"\b(?:bid|bids|offer|offers|offered|offering)\s+(?:up\s+to\s+|as\s+much\s+as\s+|about\s+|"
    r"around\s+|some\s+)?$",
    re.IGNORECASE,
)
_STAKE_DEAL = re.compile(
    r"\b(?:acquire|acquires|acquiring|buy|buys|buying|sell|sells|selling|purchase|purchases|"
    r"divest|divests|take|takes|taking)\s+(?:a\s+|an\s+|another\s+|up\s+to\s+|about\s+|"
    r"some\s+|a\s+further\s+)?$",
    re.IGNORECASE,
)
# An amount's conversion into another currency, between it and the noun it qualifies.
_CONVERSION_AFTER = re.compile(
    r"\s*(?:\(?\s*(?:US|HK|NT|C|A|S)?[$€£¥]\s?[\d.,]+\s*(?:[a-z]+\s*)?\)?)?", re.IGNORECASE
)
# A count that is already there: a possessor's ("Acme 's 250 field staff", "its 40 stores")
# or what a business has or employs today ("has 400 employees", "employs 10 people").
_PRESENT_COUNT = re.compile(
    r"(?:['’]s|\bits|\btheir|\bour|\bhis|\bher|\bhas|\bhad|\bemploys|\bemployed|\bemploying)\s+"
    r"(?:about\s+|around\s+|some\s+|more\s+than\s+|over\s+|nearly\s+|almost\s+)?$",
    re.IGNORECASE,
)
# "in the power range from 200 kW up to 2 MW": the span of a product's specification.
_SPECIFICATION_RANGE = re.compile(r"\brang(?:e|es|ing)\s+from\b", re.IGNORECASE)
# The size of one group ("a team of 12 engineers", "groups of up to 30 people").
_GROUP_SIZE = re.compile(
    r"\b(?:team|teams|group|groups|crew|crews|panel|party|parties)\s+of\s+"
    r"(?:up\s+to\s+|about\s+|around\s+|some\s+|more\s+than\s+)?$",
    re.IGNORECASE,
)
# An amount for each item of a design ("up to 64 GPUs per cluster", "0.3% of each trade",
# "Each block will contain 1,000 transactions"): a specification, not a total a fundamental
# measures. Rates per unit of time and prices per share or unit stay.
_PER_ITEM_AFTER = re.compile(
    r"[^,;]{0,25}?\b(?:per|of\s+each|for\s+each|in\s+each|each|every)\s+"
    r"(?!(?:year|annum|quarter|month|week|day|hour|minute|second|share|token|unit|tonne|ton|"
    r"barrel|ounce|kwh|mwh|person|capita|head|employee|household)s?\b)[a-z]+",
    re.IGNORECASE,
)
_PER_ITEM_BEFORE = re.compile(r"(?:^|[.;]\s)(?:each|every)\s+[a-z]+\b[^,;]*$", re.IGNORECASE)


def _is_transaction(text: str, quantity: Quantity, japanese: bool) -> bool:
    """Whether an amount is a one-off payment or the price of a deal, not a fundamental's size:
    a payment word in its clause, the price of a sale ("for $300 mln") or a deal noun right
    after it ("a $5.6 billion merger"). Amounts a metric names (revenue, capex...) stay."""
    start, end = _clause(text, quantity)
    if quantity.kind == PERCENT:
        # "will acquire 60 % of Acme 's shares", "to sell a 10% stake": a stake changes hands
        # ("to take a 20% share of the market" is a market share).
        return bool(
            _STAKE_DEAL.search(text[max(start, quantity.start - 40) : quantity.start])
            and re.match(
                r"\s*(?:(?:equity\s+)?stake|of\b.{0,30}?\b(?:shares|stake|capital|equity))\b",
                text[quantity.end : end],
                re.I,
            )
        )
    if quantity.kind not in (CURRENCY, COUNT):
        return False
    after = text[quantity.end :]
    skipped = quantity.end + _CONVERSION_AFTER.match(after).end()  # type: ignore[union-attr]
    deal = re.match(
        r"\s*(?:[A-Za-z-]+\s+)?(?:" + "|".join(vocab.DEAL_NOUNS) + r")s?\b", text[skipped:], re.I
    )
    if quantity.kind == COUNT and _counted_noun(text, quantity) != "shares":
        return False  # shares are counted in a deal's price; jobs or stores are not paid
    payments = [
        w
        for w in find_words(text[start:end], vocab.PAYMENT_WORDS)
        if not re.match(r"\s+(?:down|off)\b", text[start + w[1] :])  # "pay down debt to $2 bn"
    ]
    transaction = (
        payments
        or (quantity.kind == CURRENCY and _SALE_FOR.search(text[start : quantity.start]))
        or (quantity.kind == CURRENCY and _BID_OF.search(text[start : quantity.start]))
        or (quantity.kind == CURRENCY and deal)
    )
    return bool(transaction) and _metric_for(text, quantity, japanese)[0] in ("other", "price")


def _claimable(text: str, quantity: Quantity, japanese: bool) -> bool:
    """Whether a number can carry a claim: a change or target of a metric, not a date, a
    version, a time of day, a count of things no fundamental measures or a product's price."""
    if japanese:
        return True
    if quantity.kind == MULTIPLIER:
        return _multiplier_is_claim(text, quantity)
    surface = quantity.surface
    if not (re.search(r"\d", surface) or _NUMBER_WORD.search(surface)):
        return False  # "a bit", "an MCU": an article read as one
    before = text[quantity.start - 1] if quantity.start else " "
    after = text[quantity.end] if quantity.end < len(text) else " "
    if quantity.kind in (COUNT, PHYSICAL):
        if after.isalnum() or before.isalpha():
            return False  # "1080p", "3GSM", "Qt4"
        if _MONTH_BEFORE.search(text[: quantity.start]):
            return False  # "May 16", "August 10"
        if re.match(r"\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)", text[quantity.end :], re.I):
            return False
    if quantity.kind in (COUNT, PHYSICAL) and _SPECIFICATION_RANGE.search(
        text[max(0, quantity.start - 40) : quantity.start]
    ):
        return False
    if quantity.kind == COUNT and _GROUP_SIZE.search(
        text[max(0, quantity.start - 40) : quantity.start]
    ):
        return False
    _, clause_end = _clause(text, quantity)
    if _PER_ITEM_AFTER.match(text[quantity.end : clause_end]) or _PER_ITEM_BEFORE.search(
        text[: quantity.start]
    ):
        return False
    if _is_transaction(text, quantity, japanese):
        return False
    if quantity.kind == COUNT:
        if re.fullmatch(r"\d+\.\d+", surface.strip()) or re.search(
            r"\d{4}\s*[-–]\s*\d{4}", surface
        ):
            return False  # "2.8", "4.00": versions and statistics; "2009-2011": years
        if re.search(r"[#\[]\s*$|\b(?:No|Bug|version|v)\.?\s*$", text[: quantity.start]):
            return False
        if _PRESENT_COUNT.search(text[max(0, quantity.start - 40) : quantity.start]):
            return False
        return _counted_noun(text, quantity) is not None
    if quantity.kind == PHYSICAL:
        return quantity.unit in ("GW", "TWh") or quantity.entity in vocab.PHYSICAL_ENTITIES
    if quantity.kind == CURRENCY and abs(quantity.value) < 1e5:
        # A small sum is a product's price ("a $50 gift card") unless a share, token or
        # per-unit price is what the sentence is about.
        return _metric_for(text, quantity, japanese)[0] in ("price", "revenue", "market_cap")
    return True


def _as_multiplier(text: str, quantity: Quantity) -> Quantity:
    """ "sell half its stake": quantulum3 counts "half" as 0.5 of something; it is a halving."""
    if (
        quantity.kind == COUNT
        and quantity.surface.lower() == "half"
        and re.match(r"\s+(?:its|their|the|our|his|her)\b", text[quantity.end :], re.I)
    ):
        return Quantity(MULTIPLIER, 0.5, "x", quantity.start, quantity.end, quantity.surface)
    return quantity


_STRONG_BOUNDARY = re.compile(
    rf";\s|:\s|\.\s|{_AS_CONJUNCTION}\s|\s(?:because|while|since|after|when|but|which|although|though|"
    r"thanks to|amid|driven by|on the back of)\s",
    re.IGNORECASE,
)


def _scope(text: str, quantity: Quantity) -> tuple[int, int, int]:
    """(segment start, clause start, clause end) around a number. A cue governs the number
    inside its clause, or before it in the same segment (commas only between: "Acme expects,
    given demand, sales to rise 10%"); a cue across "as", "because", ";" does not."""
    start, end = _clause(text, quantity)
    segment = 0
    for match in _STRONG_BOUNDARY.finditer(text, 0, quantity.start):
        segment = match.end()
    return min(segment, start), start, end


def _governing_hedge(
    text: str, quantity: Quantity, japanese: bool
) -> tuple[str, str | None, int, int]:
    """(hedge level, cue, scope start, scope end) for the cues that govern ``quantity``."""
    if japanese:
        level, cue = _hedge(text, japanese)
        return level, cue, 0, len(text)
    segment, start, end = _scope(text, quantity)
    for level in HEDGE_LEVELS:
        for cue_start, _, matched in find_cues(text, level, start, end):
            # A cue after the number with a past verb or an "and" between governs another
            # verb: "30% was booked in 2009 and the rest will be booked in 2010", "open to
            # teams of up to 8 people and will run again next year".
            between = text[quantity.end : cue_start]
            if cue_start < quantity.end or not (
                find_words(between, vocab.PAST_WORDS) or re.search(r"\band\b", between)
            ):
                return level, matched, start, end
    found = [(w, lv) for lv in HEDGE_LEVELS for w in find_cues(text, lv, segment, start)]
    if found:
        (hs, he, matched), lv = max(found, key=lambda f: f[0][0])
        if not find_words(text[he : quantity.start], vocab.PAST_WORDS):
            return lv, matched, hs, end
    return "unmarked", None, start, end


_COMPUTING_ENTITIES = ("data storage", "data transfer rate")
# A sentence whose subject is a gerund ("Swapping out 10% of ... would"); the -ing words that
# open a sentence as prepositions ("According to", "During") are not one.
_GERUND_SUBJECT = re.compile(
    r"(?!(?:According|During|Following|Including|Excluding|Regarding|Concerning|Beginning|"
    r"Starting|Looking|Going|Notwithstanding|Pending|Considering|Assuming)\b)[A-Z][a-z]+ing\b"
)


# A percentage a ratio is brought to is its new level, not a change: a share of a total for a
# ratio or stake ("raise the pay-out ratio to 50 pct"), an absolute level for a rate or yield
# ("the yield will climb to 4.2 percent").
_RATIO_TO = re.compile(
    r"\b(?:(?P<share>ratio|stake|share|proportion)|(?<!growth\s)(?P<rate>yield|rate))\s+(?:\w+\s+){0,4}?"
    r"(?:to|at)\s+(?:about\s+|around\s+|some\s+|nearly\s+|almost\s+|at\s+least\s+)?$",
    re.IGNORECASE,
)


def _percent_level(text: str, quantity: Quantity) -> str | None:
    """ "share" or "absolute" when a percentage is the level a ratio or a rate is brought to."""
    start, _ = _clause(text, quantity)
    match = _RATIO_TO.search(text[max(start, quantity.start - 60) : quantity.start])
    if match is None:
        return None
    return "share" if match["share"] else "absolute"


def _choose_magnitude(
    text: str, quantities: Sequence[Quantity], japanese: bool
) -> tuple[str, Quantity, str] | None:
    """(magnitude kind, quantity, direction) for the strongest magnitude in the sentence."""
    for quantity in quantities:
        if quantity.kind == MULTIPLIER and quantity.value > 0 and quantity.value != 1:
            if quantity.value < 1:
                return "multiplier", quantity, "down"
            down = find_words(
                _clause_before(text, quantity.start, 20),
                ("cut", "reduce", "shrink", "lower", "fall", "drop", "decline"),
            )
            return "multiplier", quantity, "down" if down and not japanese else "up"
    for quantity in quantities:
        if quantity.kind == PERCENT:
            change, direction = _is_change(text, quantity, japanese)
            level = None if japanese else _percent_level(text, quantity)
            if change and level:
                return level, quantity, direction
            if change:
                return "percent", quantity, direction
    targets = [q for q in quantities if q.kind in (CURRENCY, PHYSICAL, COUNT)]
    if targets:
        # The amount after "to", "reach", "hit" (or at the end of "from X to Y") is the target.
        for quantity in reversed(targets):
            if re.search(
                r"(?:\bto|\breach(?:es|ing)?|\bhit|\btop|\bexceed|\bsurpass|\bof|\bbe|\bat|に|まで)\s*(?:about|around|roughly|nearly|almost|more than|over|at least|some|an estimated)?\s*$",
                _clause_before(text, quantity.start, 30),
                re.I,
            ):
                down = find_words(_clause_before(text, quantity.start, 40), vocab.DOWN_WORDS)
                return "absolute", quantity, "down" if down else "up"
        quantity = targets[0]
        if quantity.kind == COUNT and quantity.value < 2 and not quantity.unit:
            return None
        down = find_words(_clause_before(text, quantity.start, 40), vocab.DOWN_WORDS)
        return "absolute", quantity, "down" if down else "up"
    for quantity in quantities:
        if quantity.kind == PERCENT and _is_share(text, quantity):
            return "share", quantity, "up"
    return None


def _claimed_change(
    kind: str,
    value: float,
    direction: str,
    per_year: bool,
    years: float | None,
    baseline: float | None,
) -> float | None:
    if kind == "multiplier":
        return value if direction == "up" or value < 1 else 1.0 / value
    if kind == "percent":
        rate = value / 100.0 * (1 if direction == "up" else -1)
        if per_year:
            if years is None or years <= 0:
                return None
            return (1.0 + rate) ** years
        return 1.0 + rate
    if kind == "absolute" and baseline:
        return value / baseline
    return None


def extract_sentence(text: str, context: SentenceContext) -> list[dict[str, Any]]:
    """The claim in one sentence as a list of zero or one field dicts (see :data:`CLAIM_COLUMNS`)."""
    if not isinstance(text, str) or not text.strip():
        return []
    text = text.strip()
    japanese = context.language == "ja" or (
        context.language in (None, "und", "") and is_japanese(text)
    )
    language = "ja" if japanese else (context.language or "en")
    if not japanese and text.rstrip().endswith("?"):
        return []  # a question asks, it does not claim
    if not japanese and re.search(r"\d\s*=\s*\d", text):
        return []  # "0.999^10 = 0.99": a calculation
    horizons = find_horizons(text, context.published, language)
    quantities = [
        _as_multiplier(text, q)
        for q in find_quantities(text, language)
        if not any(h.start < q.end and q.start < h.end for h in horizons)
    ]
    # Bytes and bit rates under "would" ("1 billion accounts would take 32 GB") make a sizing
    # sum in a technical text, not a forecast.
    sizing = any(q.entity in _COMPUTING_ENTITIES for q in quantities)
    quantities = [q for q in quantities if _claimable(text, q, japanese)]
    if not quantities:
        return []
    if sizing and find_words(text, ("would",)):
        return []
    # The strongest magnitude, or when it carries no claim (a past result, a number in a clause
    # no cue governs) the strongest of those after it: "sales rose 5% in 2023 and are expected
    # to grow 8% in 2024", "has invested $1 bn so far, with $1.4 bn budgeted for 2026".
    remaining = list(quantities)
    while remaining:
        chosen = _choose_magnitude(text, remaining, japanese)
        if chosen is None:
            return []
        found = _claim_for(text, context, japanese, language, horizons, quantities, chosen)
        if found is not None:
            return [found]
        remaining = [q for q in remaining if q.start > chosen[1].end]
    return []


def _claim_for(
    text: str,
    context: SentenceContext,
    japanese: bool,
    language: str,
    horizons: Sequence[Horizon],
    quantities: Sequence[Quantity],
    chosen: tuple[str, Quantity, str],
) -> dict[str, Any] | None:
    """The claim's fields when ``chosen`` (kind, quantity, direction) carries one, else None."""
    kind, magnitude, direction = chosen
    hedge, hedge_text, scope_start, scope_end = _governing_hedge(text, magnitude, japanese)
    # How the sentence looks ahead: "up to" sets the hedge but looks ahead only beside
    # another cue ("sells the unit for up to $300 mln" reports a deal).
    cue = hedge
    if not japanese and hedge_text and hedge_text.lower() in AMOUNT_LIMITERS:
        masked = re.sub(
            "|".join(AMOUNT_LIMITERS), lambda m: " " * len(m[0]), text, flags=re.IGNORECASE
        )
        cue = _governing_hedge(masked, magnitude, japanese)[0]
    if not japanese and find_words(text[scope_start : magnitude.start], vocab.CONDITION_WORDS):
        return None  # "if revenue doubled, ...": a hypothetical
    if (
        not japanese
        and hedge_text in ("would", "could")
        and _GERUND_SUBJECT.match(text)
        and not find_words(text[: magnitude.start], (hedge_text,))
    ):
        return None  # "Adding 10 GW would cost ...": the number is in the subject of a hypothesis
    known = context.published_known
    # A date that is no deadline ("in 2025", "the 2014 plan") dates the clause it stands in; in
    # another clause it dates something else ("Acme will cut 40 jobs as part of its 2014 plan").
    dated = [h for h in horizons if japanese or h.deadline or scope_start <= h.start < scope_end]
    horizon = choose_horizon(dated, context.published, future_only=known)
    if horizons and horizon is None and cue == "unmarked":
        return None  # every date is in the past: a report
    if (
        not japanese
        and cue == "unmarked"
        and horizon is not None
        and not (scope_start <= horizon.start < scope_end)
    ):
        return None  # a deadline in another clause does not make this number a claim
    if (
        not known
        and cue == "unmarked"
        and horizon is not None
        and horizon.kind not in ("relative",)
        and not re.search(
            r"\b(?:by|until|through|before|within|towards?)\s+(?:the\s+)?(?:end\s+of\s+)?$",
            text[max(0, horizon.start - 20) : horizon.start],
            re.I,
        )
    ):
        return None  # "sales of EUR 5 mn in 2007" with no cue, from a text of unknown date
    if not _looks_ahead(text, cue, horizon, japanese, magnitude):
        return None
    if (
        known
        and horizon is None
        and any(h.due and h.due <= context.published.isoformat() and h.deadline for h in horizons)
    ):
        # "revenue is expected to have doubled by 2022", read in 2023: a claim about the past.
        return None
    metric, metric_text = _metric_for(text, magnitude, japanese)
    per_year = kind == "percent" and _per_year(text, magnitude)
    baseline = _explicit_baseline(text, magnitude, quantities) if kind == "absolute" else None
    years = None
    if horizon is not None and horizon.due:
        years = (date.fromisoformat(horizon.due) - context.published).days / 365.25
    claimed = _claimed_change(
        kind, magnitude.value, direction, per_year, years, baseline.value if baseline else None
    )
    speaker, speaker_text = _speaker(text, context, japanese)
    entity_id, entity_source = None, None
    if context.entities:
        entity_id, entity_source = context.entities[0], "sentence"
    elif context.document_entities:
        entity_id, entity_source = context.document_entities[0], "document"
    unit = magnitude.unit
    if magnitude.kind == COUNT and not japanese:
        unit = _counted_noun(text, magnitude) or unit
    if kind == "percent" or kind == "share":
        unit = "%"
    return {
        "sentence": text,
        "entity_id": entity_id,
        "entity_source": entity_source,
        "metric": metric,
        "metric_text": metric_text,
        "direction": direction,
        "magnitude_kind": kind,
        "magnitude_value": float(magnitude.value),
        "magnitude_unit": unit,
        "magnitude_text": magnitude.surface,
        "currency": magnitude.currency,
        "per_year": bool(per_year),
        "baseline_value": float(baseline.value) if baseline else None,
        "baseline_unit": baseline.unit if baseline else None,
        "baseline_source": "explicit" if baseline else None,
        "claimed_change": None if claimed is None or not math.isfinite(claimed) else float(claimed),
        "horizon": horizon.due if horizon else None,
        "horizon_kind": horizon.kind if horizon else "none",
        "horizon_text": horizon.text if horizon else None,
        "horizon_error": (horizon.error if horizon else "no horizon stated"),
        "hedge": hedge,
        "hedge_text": hedge_text,
        "speaker": speaker,
        "speaker_text": speaker_text,
        "language": language,
    }


# --------------------------------------------------------------------------- frames


def _published(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _entity_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value if str(v).strip()]


def claim_key(document_id: int, sentence_index: int, claim_index: int, sentence: str) -> str:
    """Stable identity of a claim: its place in the document and the sentence it came from.

    Re-scoring leaves it unchanged (scores are not part of it); re-ingesting an unchanged
    document gives the same key, so the ledger never holds a claim twice.
    """
    digest = hashlib.sha256(
        f"{document_id}:{sentence_index}:{claim_index}:{sentence}".encode()
    ).hexdigest()
    return digest[:20]


def sentence_hash(sentence: str) -> str:
    return hashlib.sha256(" ".join(sentence.split()).encode("utf-8")).hexdigest()


def extract_claims(
    sentences: Any,
    documents: Any,
    *,
    growth_threshold: float = DEFAULT_GROWTH_THRESHOLD,
    include_unscored: bool = True,
) -> Any:
    """Claims found in ``sentences`` (a DataFrame), one row per claim (:data:`CLAIM_COLUMNS`).

    ``sentences`` has ``document_id``, ``sentence_index``, ``text`` and optionally ``growth``
    (probability; NaN when unscored) and ``entity_ids`` (the sentence's entity tags, a list
    or a comma-separated string). ``documents`` has ``document_id`` (or ``id``),
    ``published_at`` and optionally ``language``, ``kind`` and ``entity_ids``. Documents
    without a readable publication date yield no claims: a horizon cannot be resolved
    without one.
    """
    import pandas as pd

    if not 0.0 <= float(growth_threshold) <= 1.0:
        raise InputError(f"growth threshold must be between 0 and 1, got {growth_threshold}")
    for name, frame, needed in (
        ("sentences", sentences, ("document_id", "sentence_index", "text")),
        ("documents", documents, ("published_at",)),
    ):
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(f"{name} frame lacks column(s) {', '.join(missing)}")
    docs = (
        documents.rename(columns={"id": "document_id"})
        if "document_id" not in documents.columns
        else documents
    )
    if "document_id" not in docs.columns:
        raise InputError("documents frame lacks column document_id (or id)")
    by_document: dict[int, Mapping[str, Any]] = {
        int(row["document_id"]): row for row in docs.to_dict("records")
    }
    rows: list[dict[str, Any]] = []
    for record in sentences.to_dict("records"):
        growth = record.get("growth")
        scored = growth is not None and not (isinstance(growth, float) and math.isnan(growth))
        if scored and float(growth) < growth_threshold:
            continue
        if not scored and not include_unscored:
            continue
        document_id = int(record["document_id"])
        document = by_document.get(document_id)
        if document is None:
            continue
        published = _published(document.get("published_at"))
        if published is None:
            continue
        context = SentenceContext(
            published=published,
            language=(str(document.get("language")) if document.get("language") else None),
            entities=_entity_list(record.get("entity_ids")),
            document_entities=_entity_list(document.get("entity_ids")),
            document_kind=document.get("kind"),
        )
        for claim_index, claim in enumerate(extract_sentence(str(record["text"]), context)):
            sentence_index = int(record["sentence_index"])
            claim.update(
                claim_key=claim_key(document_id, sentence_index, claim_index, claim["sentence"]),
                document_id=document_id,
                sentence_index=sentence_index,
                claim_index=claim_index,
                sentence_hash=sentence_hash(claim["sentence"]),
                published_at=published.isoformat(),
                growth=float(growth) if scored else None,
                method=METHOD_RULES,
                extractor_version=EXTRACTOR_VERSION,
            )
            rows.append(claim)
    frame = pd.DataFrame(rows, columns=[*CLAIM_COLUMNS, "magnitude_text"])
    return frame


def claims_in_text(
    text: str,
    *,
    published_at: str | None = None,
    language: str | None = None,
    entities: Iterable[Any] = (),
    scorer: Any = None,
    growth_threshold: float = DEFAULT_GROWTH_THRESHOLD,
) -> Any:
    """Claims in a pasted text (the Check page): split, optionally scored, tagged, extracted.

    Without ``published_at`` horizons resolve against today. With a ``scorer`` (a
    :class:`~analyzer.scoring.scorer.HypeScorer`) only sentences above the growth threshold
    are read; without one every sentence is.
    """
    import pandas as pd

    from analyzer.entities.definitions import as_entities
    from analyzer.entities.matching import tag_text
    from analyzer.scoring.sentences import iter_sentences

    if not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}")
    sentences = list(iter_sentences(text))
    growth: list[float | None] = [None] * len(sentences)
    if scorer is not None and sentences:
        growth = [s.get("growth") for s in scorer.sentence_scores(sentences)]
    entity_list = as_entities(entities)
    tags = tag_text("", sentences, entity_list) if entity_list else {}
    per_sentence: dict[int, list[str]] = {}
    for tag in tags.values():
        for index in sorted(tag.sentence_indices):
            per_sentence.setdefault(int(index), []).append(tag.entity_id)
    frame = pd.DataFrame(
        {
            "document_id": 0,
            "sentence_index": range(len(sentences)),
            "text": sentences,
            "growth": [float("nan") if g is None else g for g in growth],
            "entity_ids": [per_sentence.get(i, []) for i in range(len(sentences))],
        }
    )
    documents = pd.DataFrame(
        [
            {
                "document_id": 0,
                "published_at": published_at or date.today().isoformat(),
                "language": language,
                "entity_ids": sorted(tags),
            }
        ]
    )
    return extract_claims(frame, documents, growth_threshold=growth_threshold)
