"""Language detection and routing: which model, if any, may score a text.

Two entry points:

:func:`detect_language`
    the text's language (ISO 639-1 where one exists), for metadata such as a document's stored
    language. English is preferred unless another language is clearly more likely.
:func:`route_language`
    the language a text is scored as, given the languages the shipped model handles, or the
    reason it cannot be scored.

The rule, in order (see docs/METHOD.md, "Language routing"):

1. **Script first.** Letters are counted by script. Kana decide Japanese (``ja``), whatever
   the kanji and Latin words around them; Hangul decides Korean; Han without kana is Chinese,
   or the document's language for a short segment of a Japanese document (a kanji-only
   heading). Other scripts (Cyrillic, Arabic, Devanagari, Thai, ...) go to the language
   identifier, which is reliable on them.
2. **Latin script, short text.** Fewer than :data:`SHORT_LETTERS` letters or
   :data:`SHORT_WORDS` words: a language identifier cannot tell ("Hash23", "Satoshi Nakamoto",
   "Shell to Lay Off Another 2200 Staff"), so the text takes the ``default`` (the document's
   language), or the first supported Latin-script language.
3. **Latin script, English function words.** Two or more distinct words from a small list
   that is English and rarely a word of another language (the, and, of, which, ...), making
   up :data:`ENGLISH_SHARE` of the words: English, without calling the identifier.
4. **Latin script, otherwise.** py3langid's naive Bayes scores, length-normalised as py3langid
   does for its probabilities (score / sqrt(bytes), a log-likelihood ratio in nats): the best
   supported language wins unless an unsupported language beats it by more than
   :data:`MARGIN` (a factor of e^3, about 20). Financial names and Finnish place names
   make the identifier lean to Nigerian Pidgin, Frisian or Shona by a little; a French or
   German sentence beats English by far more.

A text whose routed language no model handles is ``unscored`` with a reason such as
``no model for ja``. Text without letters is undetermined (``und``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["MARGIN", "LanguageRoute", "detect_language", "route_language", "script_of"]

SAMPLE_CHARS = 4000
SHORT_LETTERS = 25
SHORT_WORDS = 4
MARGIN = 3.0
ENGLISH_SHARE = 0.12

# Kana are decisive, so a short Japanese text is never mistaken for Chinese.
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_OTHER_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Cyrillic", re.compile("[\u0400-\u052f]")),
    ("Greek", re.compile("[\u0370-\u03ff\u1f00-\u1fff]")),
    ("Arabic", re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")),
    ("Hebrew", re.compile("[\u0590-\u05ff]")),
    ("Devanagari", re.compile("[\u0900-\u097f]")),
    ("Bengali", re.compile("[\u0980-\u09ff]")),
    ("Tamil", re.compile("[\u0b80-\u0bff]")),
    ("Thai", re.compile("[\u0e00-\u0e7f]")),
    ("Georgian", re.compile("[\u10a0-\u10ff]")),
    ("Armenian", re.compile("[\u0530-\u058f]")),
    ("Ethiopic", re.compile("[\u1200-\u137f]")),
)
# Script of each language the identifier knows that is not written in Latin letters.
_SCRIPT_LANGUAGES = {"ja": "Japanese", "zh": "Han", "ko": "Hangul"}
_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f']+")
# English words that are rarely words of another language written in Latin letters ("a", "in",
# "was", "die", "will", "to", "is", "for" are: Romance, German, Dutch, Slavic, Nordic).
_ENGLISH_MARKERS = frozenset(
    """
    the and of that this with from which would its their they there been were are has have had
    said says than about into after over also could should these those what when where who
    will't isn't don't doesn't it's our we you your
    """.split()
)


@dataclass(frozen=True)
class LanguageRoute:
    """The language a text is scored as; ``reason`` says why it is not, else ``None``."""

    language: str
    script: str
    method: str  # "script", "short", "markers", "identifier", "default" or "empty"
    reason: str | None = None

    @property
    def scorable(self) -> bool:
        return self.reason is None


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's model with raw naive Bayes scores (``rank`` gives log-likelihoods)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)


def script_of(text: str) -> tuple[str, int]:
    """The dominant script of ``text`` (``Japanese`` when it has kana) and its letter count."""
    if text.isascii():
        latin = sum(ch.isalpha() for ch in text)
        return ("Latin" if latin else "none"), latin
    kana = len(_KANA.findall(text))
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    counts = {"Latin": latin, "Hangul": len(_HANGUL.findall(text))}
    if kana >= 2 or (kana and kana + han >= latin):
        return "Japanese", kana + han + latin
    counts["Han"] = han
    for name, pattern in _OTHER_SCRIPTS:
        counts[name] = len(pattern.findall(text))
    best = max(counts, key=lambda k: counts[k])
    if counts[best] == 0:
        letters = sum(ch.isalpha() for ch in text)
        return ("Other" if letters else "none"), letters
    # A few Latin words (names, tickers) in a text of another script do not make it Latin.
    if best == "Latin":
        others = sum(v for k, v in counts.items() if k != "Latin")
        if others * 2 >= latin:
            best = max((k for k in counts if k != "Latin"), key=lambda k: counts[k])
    return best, sum(counts.values())


def _english_markers(text: str) -> tuple[int, int]:
    words = [w.lower() for w in _WORD_RE.findall(text)]
    hits = {w for w in words if w in _ENGLISH_MARKERS}
    return len(hits), len(words)


def _latin_scores(text: str) -> dict[str, float]:
    """Per language: log-likelihood per sqrt(byte), py3langid's own temperature."""
    encoded = len(text.encode("utf-8")) or 1
    scale = 1.0 / math.sqrt(encoded)
    return {lang: score * scale for lang, score in _identifier().rank(text)}


def _latin_languages(supported: Collection[str]) -> list[str]:
    return [lang for lang in supported if lang not in _SCRIPT_LANGUAGES and lang not in ("und", "")]


def route_language(
    text: str,
    supported: Sequence[str] | None = None,
    *,
    default: str | None = None,
    any_language: bool = False,
) -> LanguageRoute:
    """The language ``text`` is scored as, given the model's ``supported`` languages.

    ``default`` is the document's language, taken by short texts; ``any_language`` (a
    multilingual model) makes every language scorable. See the module docstring for the rule.
    """
    supported = list(supported if supported is not None else ("en",))
    sample = text[:SAMPLE_CHARS] if isinstance(text, str) else ""
    script, letters = script_of(sample)
    fallback = default if default and default != "und" else None

    def done(language: str, method: str) -> LanguageRoute:
        if any_language or language == "und" or language in supported:
            return LanguageRoute(language, script, method)
        where = (
            f" ({script} script)"
            if script not in ("Latin", "none", "Japanese", "Han", "Hangul")
            else ""
        )
        return LanguageRoute(language, script, method, f"no model for {language}{where}")

    if letters == 0:
        return done(fallback or "und", "empty")
    if script == "Japanese":
        return done("ja", "script")
    if script == "Hangul":
        return done("ko", "script")
    if script == "Han":
        if fallback in ("ja", "zh") and letters < SHORT_LETTERS:
            return done(fallback, "default")
        return done("zh", "script")
    if script not in ("Latin", "Other"):
        code = str(_identifier().rank(sample)[0][0])
        return done(code, "script")
    latin_supported = _latin_languages(supported)
    words = len(sample.split())
    if letters < SHORT_LETTERS or words < SHORT_WORDS:
        if fallback is not None:
            return done(fallback, "default")
        return done(latin_supported[0] if latin_supported else "und", "short")
    if "en" in supported or not latin_supported:
        hits, n_words = _english_markers(sample)
        if hits >= 2 and hits >= ENGLISH_SHARE * n_words:
            return done("en", "markers")
    scores = _latin_scores(sample)
    top = max(scores, key=lambda k: scores[k])
    candidates = [lang for lang in latin_supported if lang in scores]
    if any_language or not candidates:
        return done(_normalise(top), "identifier")
    best = max(candidates, key=lambda k: scores[k])
    if top in supported or scores[top] - scores[best] <= MARGIN:
        return done(best, "identifier")
    return done(_normalise(top), "identifier")


def _normalise(code: str) -> str:
    return "und" if code == "zxx" else code


def detect_language(text: str, *, default: str = "und") -> str:
    """ISO 639-1 code of the text's language, or ``default`` when it cannot be told.

    Only the first few thousand characters are read: enough to decide, and bounded in cost.
    English is preferred unless another language is clearly more likely (see
    :func:`route_language`); a short Latin-script text gives ``default``.
    """
    if not isinstance(text, str):
        return default
    route = route_language(text, ("en",), default=None, any_language=False)
    if route.method == "short":
        # Too short to prefer English safely: the identifier's own choice when it is confident.
        sample = text[:SAMPLE_CHARS]
        if sum(ch.isalpha() for ch in sample) < 20:
            return default
        scores = _latin_scores(sample)
        top = max(scores, key=lambda k: scores[k])
        total = sum(math.exp(v - scores[top]) for v in scores.values())
        return _normalise(top) if 1.0 / total >= 0.5 else default
    return default if route.language == "und" else route.language
