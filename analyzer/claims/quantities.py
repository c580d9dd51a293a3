"""Numbers in claim sentences: amounts, percentages, multipliers and physical quantities.

English quantities come from ``quantulum3`` (numbers, scale words, units) with the currency
read by ``price-parser``. quantulum3's own unit classifier is switched off: it unpickles a
scikit-learn model, which is both unsafe and tied to one scikit-learn version; its rule-based
disambiguation is enough here. Small targeted patterns cover what neither library reads:
multiplier words ("triple", "1000x", "tenfold"), abbreviated scales after a currency
("$3.5bn", "£2tn") and Japanese numerals with 兆/億/万 and units such as ドル, 円 and 倍.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Kinds of quantity a claim can carry.
PERCENT, CURRENCY, MULTIPLIER, PHYSICAL, COUNT = (
    "percent",
    "currency",
    "multiplier",
    "physical",
    "count",
)

MULTIPLIER_WORDS = {
    "double": 2.0,
    "doubles": 2.0,
    "doubling": 2.0,
    "doubled": 2.0,
    "twofold": 2.0,
    "two-fold": 2.0,
    "triple": 3.0,
    "triples": 3.0,
    "tripling": 3.0,
    "tripled": 3.0,
    "threefold": 3.0,
    "three-fold": 3.0,
    "quadruple": 4.0,
    "quadruples": 4.0,
    "quadrupling": 4.0,
    "fourfold": 4.0,
    "four-fold": 4.0,
    "fivefold": 5.0,
    "five-fold": 5.0,
    "tenfold": 10.0,
    "ten-fold": 10.0,
    "hundredfold": 100.0,
    "halve": 0.5,
    "halves": 0.5,
    "halving": 0.5,
}
_MULTIPLIER_WORD = re.compile(
    r"(?<![\w-])("
    + "|".join(sorted(map(re.escape, MULTIPLIER_WORDS), key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)
# "1000x", "10X", "5×", "3-fold", "10 times"
_MULTIPLIER_NUMBER = re.compile(
    r"(?<![\w.$])(\d+(?:[.,]\d+)*)\s?(?:x|×|-fold|fold|times)(?![\w-])", re.IGNORECASE
)
_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
    "a hundred": 100,
    "a thousand": 1000,
}
_MULTIPLIER_SPELLED = re.compile(
    r"(?<![\w-])(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\s+times(?![\w-])",
    re.IGNORECASE,
)
# quantulum3 reads "$3.5bn" as dollars times bits times newtons; the scale it misses:
_SCALE = {"tn": 1e12, "trn": 1e12, "bn": 1e9, "b": 1e9, "mn": 1e6, "mln": 1e6, "m": 1e6, "k": 1e3}
_SCALE_WORDS = {"trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3}
_CURRENCY_SYMBOLS = {
    "US$": "USD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "C$": "CAD",
    "A$": "AUD",
    "HK$": "HKD",
    "S$": "SGD",
    "NT$": "TWD",
    "₩": "KRW",
    "₹": "INR",
    "CHF": "CHF",
    "USD": "USD",
    "EUR": "EUR",
    "GBP": "GBP",
    "JPY": "JPY",
    "CNY": "CNY",
    "RMB": "CNY",
    "Rs": "INR",
    "yen": "JPY",
    "euros": "EUR",
    "euro": "EUR",
    "dollars": "USD",
    "dollar": "USD",
    "pounds": "GBP",
}
# quantulum3 currency names -> ISO codes, for amounts written with words ("5 billion euros").
_CURRENCY_NAMES = {
    "dollar": "USD",
    "united states dollar": "USD",
    "euro": "EUR",
    "pound sterling": "GBP",
    "japanese yen": "JPY",
    "chinese yuan": "CNY",
    "canadian dollar": "CAD",
    "australian dollar": "AUD",
    "hong kong dollar": "HKD",
    "new taiwan dollar": "TWD",
    "indian rupee": "INR",
    "south korean won": "KRW",
    "swiss franc": "CHF",
    "cent": "USD",
}
# Physical units a claim may be about, normalised (quantulum3 unit name -> unit, scale).
_PHYSICAL_UNITS = {
    "gigawatt": ("GW", 1.0),
    "megawatt": ("GW", 1e-3),
    "kilowatt": ("GW", 1e-6),
    "terawatt": ("GW", 1e3),
    "watt": ("GW", 1e-9),
    "terawatt hour": ("TWh", 1.0),
    "gigawatt hour": ("TWh", 1e-3),
    "megawatt hour": ("TWh", 1e-6),
    "kilowatt hour": ("TWh", 1e-9),
}
YEAR_RANGE = (1980, 2100)


@dataclass(frozen=True)
class Quantity:
    """One number found in a sentence. ``value`` is in base units (USD, not billions of USD)."""

    kind: str
    value: float
    unit: str | None
    start: int
    end: int
    surface: str
    currency: str | None = None
    entity: str | None = None  # quantulum3's kind of physical quantity (mass, volume...)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "unit": self.unit,
            "currency": self.currency,
            "start": self.start,
            "end": self.end,
            "surface": self.surface,
        }


@lru_cache(maxsize=1)
def _quantulum_parser() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from quantulum3 import classifier

        classifier.USE_CLF = False
        from quantulum3 import parser
    return parser


def warm_up() -> None:
    """Load quantulum3's unit tables now (a few seconds) rather than on the first sentence."""
    _quantulum_parser().parse("10 GW")


def _currency_code(text: str) -> str | None:
    from price_parser import Price

    found = Price.fromstring(text).currency
    if not found:
        return None
    return (
        _CURRENCY_SYMBOLS.get(found)
        or _CURRENCY_SYMBOLS.get(found.strip())
        or (found if len(found) == 3 and found.isalpha() and found.isupper() else None)
    )


def _preceding_currency(text: str, start: int) -> str | None:
    """An ISO code or symbol written just before a number ("EUR 5 billion", "Rs 10,000")."""
    match = re.search(
        r"(?:^|\s)([A-Z]{3}|Rs|RMB|euros?)\s?$", text[max(0, start - 7) : start], re.IGNORECASE
    )
    return _CURRENCY_SYMBOLS.get(match[1]) if match else None


def _next_word(text: str, end: int) -> str:
    match = re.match(r"\s*([A-Za-z][A-Za-z-]*)", text[end:])
    return match[1] if match else ""


def _is_year(value: float, surface: str) -> bool:
    digits = surface.strip()
    return (
        float(value).is_integer()
        and YEAR_RANGE[0] <= value <= YEAR_RANGE[1]
        and re.fullmatch(r"(?:FY|fiscal\s)?'?\d{4}s?", digits, re.IGNORECASE) is not None
    )


def _repair_currency(text: str, start: int, end: int) -> Quantity | None:
    """A currency amount quantulum3 misread ("a $1 trillion", "$3.5bn"), read again."""
    window = text[start : min(len(text), end + 12)]
    symbol = re.search(r"(US\$|HK\$|NT\$|C\$|A\$|S\$|[$€£¥₩₹])", window)
    if not symbol:
        return None
    at = start + symbol.start()
    tail = text[at + len(symbol[0]) :]
    number = re.match(
        r"\s?(\d(?:[\d,]*\d)?(?:\.\d+)?)(?:\s?(trillion|billion|million|thousand|tn|trn|bn|mn|mln|b|m|k)(?![A-Za-z]))?",
        tail,
        re.IGNORECASE,
    )
    if number is None:
        return None
    value = float(number[1].replace(",", ""))
    if number[2]:
        scale = number[2].lower()
        value *= _SCALE_WORDS.get(scale) or _SCALE[scale]
    scale_end = number.end()
    stop = at + len(symbol[0]) + scale_end
    return Quantity(
        CURRENCY,
        value,
        _CURRENCY_SYMBOLS[symbol[0]],
        at,
        stop,
        text[at:stop],
        _CURRENCY_SYMBOLS[symbol[0]],
    )


# Newswire spellings quantulum3 misreads, rewritten before parsing (see :func:`normalise`).
_NORMALISE: list[tuple[re.Pattern[str], Any]] = [
    # A run of more than 15 digits is no amount (an id, a hash); quantulum3 takes time cubic
    # in its length, minutes for a few hundred digits.
    (re.compile(r"\d{16,}"), lambda m: " " * len(m[0])),
    # "EUR5 million", "USD3.5bn": a currency code glued to its number.
    (re.compile(r"(?<![A-Za-z])(EUR|USD|GBP|JPY|CNY|SEK|NOK|DKK|CHF|RMB)(?=\d)"), r"\1 "),
    # "$ 4.5": a currency symbol set apart from its number.
    (re.compile(r"(?<=[$€£¥])\s+(?=\d)"), ""),
    # "2.0 mln euro $ 2.7 mln": a conversion run on without a separator.
    (re.compile(r"\b(euros?)(?=\s+[$£¥])"), r"\1,"),
    # "euro300 million": the currency word glued to its number, read as the code.
    (re.compile(r"(?<![A-Za-z])(?:euros?|eur)(?=\d)", re.IGNORECASE), "EUR "),
    # "some 3.1 mln", "Some EUR 70 mn": quantulum3 drops the scale after "some".
    (
        re.compile(r"\bsome(?=\s+(?:[A-Z]{3}\s?|[$€£¥])?\d)", re.IGNORECASE),
        lambda m: "About" if m[0][0].isupper() else "about",
    ),
    # "10 .65" (a tokenised decimal point), "60 ,000" (a tokenised thousands separator).
    (re.compile(r"(?<=\d) \.(?=\d)"), "."),
    (re.compile(r"(?<=\d) ,(?=\d{3}(?!\d))"), ","),
    # "9 540 000": thousands grouped with spaces.
    (
        re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d.,]\d)"),
        lambda m: m[0].replace(" ", ""),
    ),
    # "65 mln", "EUR 67.5 mn", "$3bn", "EUR30m": abbreviated scales after a number.
    (
        re.compile(r"(?<=\d)\s?(mln|mn|m|bln|bn|b|tn|trn)(?![A-Za-z0-9])"),
        lambda m: (
            " "
            + {
                "mln": "million",
                "mn": "million",
                "m": "million",
                "bln": "billion",
                "bn": "billion",
                "b": "billion",
                "tn": "trillion",
                "trn": "trillion",
            }[m[1]]
        ),
    ),
    # "EUR 200 million US$ 240 million": a conversion after a scale word, kept apart.
    (
        re.compile(r"\b(million|billion|trillion)(?=\s+(?:US|HK|NT|C|A|S)?[$£¥€]\s?\d)"),
        r"\1,",
    ),
    # "EUR 0.8-1.2 billion", "10-12 million": quantulum3 adds the ends of a range whose scale
    # is written once; spelt out on both ends it reads the range and its midpoint.
    (
        re.compile(
            r"(?<![\d.,])(\d+(?:\.\d+)?)\s?[-–]\s?(\d+(?:\.\d+)?)\s(million|billion|trillion)\b"
        ),
        r"\1 \3 - \2 \3",
    ),
]


def normalise(text: str) -> tuple[str, list[int]]:
    """``text`` with newswire number spellings rewritten, and where each character came from.

    ``origin[i]`` is the index in ``text`` of character ``i`` of the result (one extra entry
    for the end), so spans found in the result map back onto the sentence.
    """
    origin = list(range(len(text) + 1))
    for pattern, replacement in _NORMALISE:
        pieces: list[str] = []
        places: list[int] = []
        last = 0
        for match in pattern.finditer(text):
            new = match.expand(replacement) if isinstance(replacement, str) else replacement(match)
            pieces.append(text[last : match.start()])
            places.extend(origin[last : match.start()])
            pieces.append(new)
            # The rewrite's characters point at the replaced ones in order, its last at the
            # last replaced one, so a span ending inside it ends where the match ended.
            width = match.end() - match.start()
            span = [origin[match.start() + min(i, max(width - 1, 0))] for i in range(len(new))]
            if span and width:
                span[-1] = origin[match.end() - 1]
            places.extend(span)
            last = match.end()
        pieces.append(text[last:])
        places.extend(origin[last:])
        text = "".join(pieces)
        origin = places
    return text, origin


def english_quantities(text: str) -> list[Quantity]:
    """Quantities in an English sentence, without the numbers that are years."""
    normalised, origin = normalise(text)
    found = _english_quantities(normalised)
    if normalised == text:
        return found
    mapped = []
    for q in found:
        start = origin[q.start]
        end = origin[q.end - 1] + 1 if q.end > q.start else start
        mapped.append(
            Quantity(q.kind, q.value, q.unit, start, end, text[start:end], q.currency, q.entity)
        )
    return mapped


def _english_quantities(text: str) -> list[Quantity]:
    parser = _quantulum_parser()
    found: list[Quantity] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parser.parse(text)
    except (
        Exception
    ):  # quantulum3 raises assorted errors on odd input; a sentence is skipped, not the run
        parsed = []
    for item in _split_from_to_ranges(text, parsed):
        start, end = item.span
        surface = text[start:end]
        unit_name = item.unit.name
        entity = item.unit.entity.name
        value = float(item.value)
        if entity == "currency" or unit_name in _CURRENCY_NAMES:
            currency = (
                _currency_code(surface)
                or _CURRENCY_NAMES.get(unit_name)
                or getattr(item.unit, "currency_code", None)
            )
            if unit_name == "cent":
                value /= 100.0
            found.append(Quantity(CURRENCY, value, currency, start, end, surface, currency))
            continue
        if any(s in surface for s in "$€£¥₩₹") or (
            entity == "unknown" and re.search(r"\b(?:dollar|euro|pound)", unit_name)
        ):
            repaired = _repair_currency(text, start, end)
            if repaired is not None:
                found.append(repaired)
                continue
        per_unit = re.fullmatch(r"(cent|dollar|euro) per (.+)", unit_name)
        if per_unit:
            currency = {"cent": "USD", "dollar": "USD", "euro": "EUR"}[per_unit[1]]
            scale = 0.01 if per_unit[1] == "cent" else 1.0
            found.append(
                Quantity(
                    CURRENCY,
                    value * scale,
                    f"{currency}/{per_unit[2]}",
                    start,
                    end,
                    surface,
                    currency,
                )
            )
            continue
        if unit_name == "percentage":
            found.append(Quantity(PERCENT, value, "%", start, end, surface))
            continue
        if unit_name in _PHYSICAL_UNITS:
            unit, scale = _PHYSICAL_UNITS[unit_name]
            # "terawatt-hours" arrives as terawatt followed by "-hours".
            if unit == "GW" and re.match(r"[- ]?hours?\b", text[end:]):
                unit, end = "TWh", end + re.match(r"[- ]?hours?\b", text[end:]).end()  # type: ignore[union-attr]
                scale = {
                    "gigawatt": 1e-3,
                    "megawatt": 1e-6,
                    "kilowatt": 1e-9,
                    "terawatt": 1.0,
                    "watt": 1e-12,
                }[unit_name]
            found.append(Quantity(PHYSICAL, value * scale, unit, start, end, text[start:end]))
            continue
        if unit_name == "count" and re.search(r"\btimes\b", surface):
            continue  # "three times" is a multiplier, read by multiplier_quantities
        if entity in ("dimensionless", "unknown") or unit_name == "count":
            if _is_year(value, surface):
                continue
            code = _preceding_currency(text, start)
            if code:
                begin = text.rfind(" ", 0, max(0, start - 1)) + 1
                found.append(Quantity(CURRENCY, value, code, begin, end, text[begin:end], code))
                continue
            if entity == "unknown":
                noun = surface.split()[-1] if " " in surface else re.sub(r"^[\d.,]+", "", surface)
            else:
                noun = _next_word(text, end)
            found.append(Quantity(COUNT, value, noun.lower() or None, start, end, surface))
            continue
        if entity == "time":
            continue  # "a year", "five years": durations belong to the horizon
        found.append(Quantity(PHYSICAL, value, unit_name, start, end, surface, None, entity))
    return found


@dataclass
class _Item:
    """A quantulum3 result with its value and span replaced (one side of a range)."""

    value: float
    span: tuple[int, int]
    unit: Any
    uncertainty: float | None = None


def _split_from_to_ranges(text: str, parsed: list[Any]) -> list[Any]:
    """quantulum3 reads "from $2 million to $10 million" as one range; a claim needs both ends.

    A range after "from" becomes its low and high ends; any other range ("$30 billion to $33
    billion", "20-25%") keeps quantulum3's midpoint.
    """
    out: list[Any] = []
    for item in parsed:
        start, end = item.span
        uncertainty = getattr(item, "uncertainty", None)
        separator = re.search(r"\s+(?:to|and)\s+|\s*[-–]\s*", text[start:end])
        if uncertainty and separator and re.search(r"\bfrom\s+$", text[max(0, start - 6) : start]):
            low, high = (
                float(item.value) - float(uncertainty),
                float(item.value) + float(uncertainty),
            )
            cut = start + separator.start()
            out.append(_Item(low, (start, cut), item.unit))
            out.append(_Item(high, (start + separator.end(), end), item.unit))
        else:
            out.append(item)
    return out


def multiplier_quantities(text: str) -> list[Quantity]:
    """ "double", "triple", "1000x", "10-fold", "three times" as multipliers."""
    found = [
        Quantity(MULTIPLIER, MULTIPLIER_WORDS[m[1].lower()], "x", m.start(), m.end(), m[0])
        for m in _MULTIPLIER_WORD.finditer(text)
    ]
    for match in _MULTIPLIER_NUMBER.finditer(text):
        try:
            value = float(match[1].replace(",", ""))
        except ValueError:
            continue
        found.append(Quantity(MULTIPLIER, value, "x", match.start(), match.end(), match[0]))
    for match in _MULTIPLIER_SPELLED.finditer(text):
        found.append(
            Quantity(
                MULTIPLIER,
                float(_NUMBER_WORDS[match[1].lower()]),
                "x",
                match.start(),
                match.end(),
                match[0],
            )
        )
    return sorted(found, key=lambda q: q.start)


# --------------------------------------------------------------------------- Japanese

_JA_DIGITS = {
    "〇": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_JA_SCALES = {"兆": 1e12, "億": 1e8, "万": 1e4, "千": 1e3}
_JA_NUMBER = r"(?:[0-9][0-9,]*(?:\.[0-9]+)?|[〇一二三四五六七八九十百千]+)"
_JA_AMOUNT = re.compile(
    rf"((?:{_JA_NUMBER}\s*[兆億万千]?)+)\s*(米ドル|ドル|円|ユーロ|元|%|パーセント|倍|ギガワット|メガワット|GW|MW|TWh|テラワット時|人|台|基|社|件)?"
)
_JA_UNITS = {
    "米ドル": (CURRENCY, "USD"),
    "ドル": (CURRENCY, "USD"),
    "円": (CURRENCY, "JPY"),
    "ユーロ": (CURRENCY, "EUR"),
    "元": (CURRENCY, "CNY"),
    "%": (PERCENT, "%"),
    "パーセント": (PERCENT, "%"),
    "倍": (MULTIPLIER, "x"),
    "ギガワット": (PHYSICAL, "GW"),
    "メガワット": (PHYSICAL, "GW"),
    "GW": (PHYSICAL, "GW"),
    "MW": (PHYSICAL, "GW"),
    "TWh": (PHYSICAL, "TWh"),
    "テラワット時": (PHYSICAL, "TWh"),
}


def _kanji_number(text: str) -> float:
    """A number written in kanji (三百五十) or digits (350, 1.5)."""
    if re.fullmatch(r"[0-9][0-9,]*(?:\.[0-9]+)?", text):
        return float(text.replace(",", ""))
    total, current = 0, 0
    for char in text:
        if char in _JA_DIGITS:
            current = current * 10 + _JA_DIGITS[char] if current else _JA_DIGITS[char]
        elif char in "十百千":
            unit = {"十": 10, "百": 100, "千": 1000}[char]
            total += (current or 1) * unit
            current = 0
    return float(total + current)


def japanese_amount(number_text: str) -> float:
    """``1兆2000億`` -> 1.2e12; digits and kanji digits both work."""
    total = 0.0
    for number, scale in re.findall(rf"({_JA_NUMBER})\s*([兆億万千]?)", number_text):
        value = _kanji_number(number)
        total += value * (_JA_SCALES[scale] if scale else 1.0)
    return total


def japanese_quantities(text: str) -> list[Quantity]:
    normalised = unicodedata.normalize("NFKC", text)  # full-width digits and ％ become ASCII
    found: list[Quantity] = []
    for match in _JA_AMOUNT.finditer(normalised):
        number_text, unit = match[1].strip(), match[2]
        if not number_text or not re.search(r"[0-9〇一二三四五六七八九]", number_text):
            continue
        after = normalised[match.end() : match.end() + 2]
        if unit is None and (
            after.startswith("年") or after.startswith("月") or after.startswith("四半期")
        ):
            continue  # a date, not an amount
        if unit is None and not re.search(r"[兆億万]", number_text):
            continue
        value = japanese_amount(number_text)
        if unit in ("メガワット", "MW"):
            value *= 1e-3
        kind, base_unit = _JA_UNITS.get(unit or "", (COUNT, unit))
        currency = base_unit if kind == CURRENCY else None
        found.append(
            Quantity(kind, value, base_unit, match.start(), match.end(), match[0], currency)
        )
    return found


def is_japanese(text: str) -> bool:
    return re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text) is not None


def find_quantities(text: str, language: str | None = None) -> list[Quantity]:
    """Every quantity in a sentence, in reading order; multipliers first where spans overlap."""
    if language == "ja" or (language in (None, "und") and is_japanese(text)):
        return japanese_quantities(text)
    multipliers = multiplier_quantities(text)
    others = [
        q
        for q in english_quantities(text)
        if not any(m.start < q.end and q.start < m.end for m in multipliers)
    ]
    merged = _merge_ranges(text, sorted(multipliers + others, key=lambda q: q.start))
    return _drop_conversions(text, merged)


def _drop_conversions(text: str, quantities: list[Quantity]) -> list[Quantity]:
    """ "EUR 300 million ( $380 million )": an amount converted into another currency straight
    after the original repeats it; the original, written first, is the one the text states."""
    out: list[Quantity] = []
    for q in quantities:
        if out:
            p = out[-1]
            if (
                p.kind == CURRENCY == q.kind
                and p.currency != q.currency
                and re.fullmatch(r"[\s(,/]*", text[p.end : q.start])
            ):
                continue
        out.append(q)
    return out


def _merge_ranges(text: str, quantities: list[Quantity]) -> list[Quantity]:
    """ "$1.1 billion to $1.2 billion", "between 10 and 12 GW": one quantity at the midpoint.

    A pair after "from" stays two quantities: "from X to Y" is a baseline and a target.
    """
    out: list[Quantity] = []
    for q in quantities:
        if out:
            p = out[-1]
            between = text[p.end : q.start]
            joined = re.fullmatch(r"\s*(?:to|-|–)\s*", between) or (
                re.fullmatch(r"\s*and\s*", between)
                and re.search(r"\bbetween\s+$", text[max(0, p.start - 9) : p.start], re.I)
            )
            if (
                joined
                and p.kind == q.kind
                and p.kind in (CURRENCY, PHYSICAL, COUNT)
                and p.unit == q.unit
                and 0 < p.value < q.value
                # "from X to Y" is a baseline and a target, "by X to Y" a change and a level.
                and not re.search(r"\b(?:from|by)\s+$", text[max(0, p.start - 6) : p.start], re.I)
            ):
                out[-1] = Quantity(
                    q.kind,
                    (p.value + q.value) / 2.0,
                    q.unit,
                    p.start,
                    q.end,
                    text[p.start : q.end],
                    q.currency,
                    q.entity,
                )
                continue
        out.append(q)
    return out
