"""What counts as prose: the kind of each segment a document is split into.

The sentence splitter cuts whatever text a document holds: a PDF's figure labels and formulas,
a page's share buttons and counters, a paper's title and author line. Those segments are not
sentences a writer argues with, and the classifier, trained on sentences, gives them arbitrary
scores ("Hash" 0.93, "Satoshi Nakamoto" 0.97). :func:`segment_kinds` names each segment's kind;
only ``prose`` segments are scored and enter document aggregates and heat. The others are
kept (stored with their kind and shown greyed) but never scored.

Kinds (the rule for each, first match wins; docs/METHOD.md, "What counts as prose"):

``empty``       no letter or digit at all (never stored: the splitter drops it)
``url``         a bare address or e-mail (``www.bitcoin.org``, ``name@example.com``)
``boilerplate`` navigation and page furniture: popularity counters (``270.11K 人気度``,
                ``1.2K views``), share buttons (``Share on Twitter``, ``シェア``), "Read more",
                "Subscribe", copyright lines, at most 14 words
``numeric``     under 35% of the visible characters are letters (``z=1 P=0.2045873``)
``formula``     mathematics or code: symbols of a PDF's math font (private-use characters),
                ``∑ ≤ √``, TeX commands, or several operators in a short segment
``reference``   a bibliography entry (``[3] S. Haber, W.S. Stornetta, ...``)
``byline``      ``By ...``, ``Posted by ...``, a source line (``出典:``), or a short name line
                right under a document's title ("Satoshi Nakamoto")
``caption``     ``Figure 3: ...``, ``Table 2. ...`` (or an HTML ``figcaption``)
``table-cell``  a cell of an HTML table (only with that hint)
``label``       a diagram label: a short segment of identifier-like tokens (``Hash23``,
                ``Tx0 Tx1``), repeated words (``Item Item ...``) or an ellipsis alone
``heading``     a title or section heading: short (at most 10 words, or 30 characters of
                Japanese) and without final punctuation
``prose``       everything else

Document-level rules follow. A document's opening line without final punctuation (up to 20
words) is its title, and a short line of capitalised words right under it its byline. A
document with no prose at all is read as what it is, a headline or a one-line record ("Shell
to Lay Off Another 2200 Staff", "All rights reserved."), so every segment with words becomes
prose (numbers, formulas and addresses stay out). And the aggregates count identical prose
segments once (a page that carries its body twice is not twice as hyped).

The rules read the text only, so they apply to stored documents, records and PDFs alike. A
hint (the HTML tag a segment came from, as the real-text pool has) can sharpen them: ``title``
and ``post`` mark prose; ``h1``-``h6``, ``td``/``th``, ``figcaption`` their kinds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "NON_PROSE_KINDS",
    "PROSE",
    "PROSE_KINDS",
    "SEGMENT_KINDS",
    "SOFT_KINDS",
    "aggregate_key",
    "is_line_unit",
    "is_prose",
    "segment_kind",
    "segment_kinds",
]

PROSE = "prose"
SEGMENT_KINDS = (
    "prose",
    "headline",
    "heading",
    "byline",
    "label",
    "caption",
    "table-cell",
    "formula",
    "reference",
    "numeric",
    "url",
    "boilerplate",
    "empty",
)
# Prose kinds: ``headline`` is a feed item's or headline's title (only with the ``title`` hint).
PROSE_KINDS = frozenset({"prose", "headline"})
NON_PROSE_KINDS = frozenset(SEGMENT_KINDS) - PROSE_KINDS
# Kinds a document made of nothing else is read as: a headline, or a one-line record.
# Everything with words: only bare numbers, formulas and addresses have nothing to read.
SOFT_KINDS = frozenset(
    {"heading", "label", "byline", "caption", "table-cell", "reference", "boilerplate"}
)

# Furniture phrases: anywhere in a segment of at most 14 words.
_BOILERPLATE_RE = re.compile(
    r"\b(?:read more|continue reading|read the (?:full|rest)|click here|sign up (?:for|to|now)|subscribe (?:to|now|for)|"
    r"share (?:this|on|via)|follow us|all rights reserved|terms of (?:use|service)|privacy policy|"
    r"related:|permalink|posted (?:by|in|on)|tags?:|filed under|skip to|back to top|view (?:all|more)|"
    r"more from|sponsored content|leave a comment|\d+ comments?)\b",
    re.IGNORECASE,
)
# Furniture words: only in a short segment (a menu item, a button), not in a sentence that
# mentions them ("Sanoma's advertising sales decreased", "declined to comment").
_FURNITURE_WORD_RE = re.compile(
    r"^(?:[\W\d]*)(?:subscribe|sign in|sign up|log ?in|log ?out|register|comments?|cookies?|advertisement|"
    r"newsletter|download|reprints|copyright|menu|search|home|next|previous|share|print|email)\b",
    re.IGNORECASE,
)
# Page furniture written in Japanese: share buttons, "read more", rankings, related articles.
_JA_FURNITURE_RE = re.compile(
    r"(?:人気度|閲覧数|いいね|シェア|ツイート|はてブ|続きを読む|もっと見る|関連記事|人気記事|ランキング|"
    r"コメント|広告|スポンサー|ニュースレター|登録|ログイン|トップへ戻る|次の記事|前の記事|タグ[:：])"
)
# A popularity counter: a (possibly abbreviated) number and a counted thing, either order.
_COUNTER_WORDS = (
    r"(?:人気度|閲覧|閲覧数|いいね|シェア|コメント|views?|likes?|shares?|comments?|reads?|followers?|"
    r"claps?|votes?|retweets?|reactions?|points?|stars?|downloads?)"
)
_COUNT = r"[\d][\d.,]*\s*[KkMmBb万千億]?\+?"
_COUNTER_RE = re.compile(
    rf"^(?:{_COUNT}\s*{_COUNTER_WORDS}|{_COUNTER_WORDS}\s*[:：]?\s*{_COUNT})$", re.IGNORECASE
)
_SOCIAL = (
    r"(?:share|tweet|pin|email|e-mail|print|copy link|facebook|twitter|x|linkedin|reddit|whatsapp|telegram|"
    r"line|pocket|hatena|mastodon|threads|bluesky|instagram|youtube|rss|シェア|ツイート|はてブ|送る|印刷)"
)
_SHARE_ROW_RE = re.compile(rf"^(?:{_SOCIAL}[\s|/·•,]*){{1,8}}$", re.IGNORECASE)
_BYLINE_RE = re.compile(
    r"^(?:by|written by|posted by|reported by|words by|photo(?:graph)?s? by|credits?:|source:|via:?)\s",
    re.IGNORECASE,
)
_JA_SOURCE_RE = re.compile(
    r"(?:^|\s)(?:出典|元タイトル|元リンク|元記事|著者|筆者|文|写真|画像|提供|翻訳|編集)\s*[:：]"
)
_CAPTION_RE = re.compile(
    r"^(?:figure|fig\.|table|photo|image|illustration|chart|exhibit|図|表)\s*\d*\s*[:.\-–：]",
    re.IGNORECASE,
)
_URL_RE = re.compile(
    r"^(?:\S*https?://\S+|www\.\S+|\S+\.(?:com|org|net|io|jp|co\.uk|de|fr)(?:/\S*)?)$",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(r"\S+@\S+\.\w+")
_MATH_RE = re.compile(
    r"\\(?:frac|sum|prod|mathrm|textrm|cdot|times|le|ge|log|sqrt|\[|\])|\$[^$]*[=+^_\\<>][^$]*\$"
)
# Symbols of a PDF's math font come out as private-use characters; these are mathematics too.
_MATH_SYMBOLS_RE = re.compile("[\ue000-\uf8ff∑∏∫√∞≤≥≠≈±∓×÷∂∇∈∉⊂⊆∪∩∀∃λσμθπΣΠΩ→←↔⇒⇔]")
_OPERATOR_TOKEN_RE = re.compile(r"^[=<>+\-*/^−×|]+$|=")
_CODE_RE = re.compile(
    r"#include|\b(?:def|return|double|int|void|var|const|function)\b[^.]*[;{}()]|[;{}]\s*$"
)
_REFERENCE_RE = re.compile(r"^\[\d{1,3}\]\s+\S")
_LABEL_TOKEN_RE = re.compile(r"^(?=[^\s]*[A-Za-z])(?=[^\s]*\d)[A-Za-z0-9\-_']+$")
_TERMINAL = '.!?…:;"”’)]。！？」』）'
_JA_CHARS_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_HAS_CONTENT_RE = re.compile(r"\w")


def segment_kind(text: str, hint: str | None = None, furniture: bool = False) -> str:
    """The kind of one segment (see the module docstring); ``prose`` for an ordinary sentence.

    ``hint``: the HTML element the text came from, when known (``title``, ``post``, ``h2``,
    ``td``, ``figcaption`` ...); ``furniture``: it came from page navigation, header or footer.
    """
    text = text.strip()
    if not text or not _HAS_CONTENT_RE.search(text):
        return "empty"
    words = text.split()
    n_words = len(words)
    if _URL_RE.match(text) or (n_words <= 3 and _EMAIL_RE.search(text)):
        return "url"
    if n_words <= 6 and (_COUNTER_RE.match(text) or _SHARE_ROW_RE.match(text)):
        return "boilerplate"
    visible = len(text) - sum(map(str.isspace, text))
    letters = sum(map(str.isalpha, text))
    if visible and letters / visible < 0.35:
        return "numeric"
    if _is_formula(text, n_words):
        return "formula"
    if _REFERENCE_RE.match(text):
        return "reference"
    if hint == "title":
        return "headline"  # an item's or a headline's title makes a claim, unlike a section heading
    if hint == "post":
        return "prose"
    if n_words <= 10 and (_BYLINE_RE.match(text) or _EMAIL_RE.search(text)):
        return "byline"
    if _JA_SOURCE_RE.match(text) or (len(text) <= 40 and _JA_SOURCE_RE.search(text)):
        return "byline"
    if hint in ("figcaption", "caption") or _CAPTION_RE.match(text):
        return "caption"
    if hint in ("td", "th") and n_words <= 12:
        return "table-cell"
    japanese = len(_JA_CHARS_RE.findall(text))
    if (_BOILERPLATE_RE.search(text) or "©" in text) and n_words <= 14:
        return "boilerplate"
    if n_words <= 4 and _FURNITURE_WORD_RE.match(text):
        return "boilerplate"
    if japanese and _JA_FURNITURE_RE.search(text) and len(text) <= 20:
        return "boilerplate"
    if furniture and n_words <= 8:
        return "boilerplate"
    if _is_label(words):
        return "label"
    short = len(text) <= 30 if japanese >= len(text) / 3 else n_words <= 10
    if hint in ("h1", "h2", "h3", "h4", "h5", "h6", "dt") or (short and _unpunctuated(text)):
        return "heading"
    return "prose"


def _is_formula(text: str, n_words: int) -> bool:
    if _MATH_SYMBOLS_RE.search(text):
        symbols = len(_MATH_SYMBOLS_RE.findall(text))
        if n_words < 12 or symbols * 4 >= n_words:  # not prose with a formula run into it
            return True
    if _MATH_RE.search(text) and (n_words < 12 or text.count("$") >= 4):
        return True
    if _CODE_RE.search(text) and text.count(";") + text.count("{") + text.count("}") >= 2:
        return True
    operators = sum(1 for word in text.split() if _OPERATOR_TOKEN_RE.search(word))
    return operators >= 2 and operators * 3 >= n_words


def _is_label(words: Sequence[str]) -> bool:
    """Diagram labels: "Hash23", "Tx0 Tx1 Tx2", "Item Item ...", "In ...", "Sign Sign"."""
    if len(words) > 6:
        return False
    words = [w for w in words if any(ch.isalnum() for ch in w) or w in ("...", "…")]
    bare = [w for w in words if w not in ("...", "…")]
    if not bare:
        return bool(words)
    if len(bare) < len(words) and len(bare) <= 3:
        return True  # a label trailing off into an ellipsis
    if all(_LABEL_TOKEN_RE.match(w) for w in bare):
        return True
    lowered = [w.lower() for w in bare]
    return len(bare) >= 2 and len(set(lowered)) < len(lowered)


def is_line_unit(line: str) -> bool:
    """A line that stands on its own even without final punctuation: a counter or share row, a
    source line (``出典: ...``), or a short line of Japanese without a sentence end (a heading).

    The sentence splitter asks this before joining a line with the next as a soft wrap.
    """
    line = line.strip()
    if not line:
        return False
    if len(line.split()) <= 6 and (_COUNTER_RE.match(line) or _SHARE_ROW_RE.match(line)):
        return True
    if _JA_SOURCE_RE.match(line):
        return True
    japanese = len(_JA_CHARS_RE.findall(line))
    # A wrapped line tends to stop on a particle or inflection (hiragana: "データセンター向けの");
    # a heading on a noun.
    last = line[-1]
    return (
        japanese * 2 >= len(line)
        and len(line) <= 30
        and last not in _TERMINAL + "、,"
        and not "\u3040" <= last <= "\u309f"
    )


def segment_kinds(segments: Sequence[str]) -> list[str]:
    """Kinds of a document's segments, in order, with the document-level rules applied.

    A short line of capitalised words right under a document's opening heading is its byline
    ("Satoshi Nakamoto" under the title); an opening line of up to 20 words without final
    punctuation is the title even when it is too long for the heading rule. A document with no prose is read as a headline or a
    one-line record: its segments with words (:data:`SOFT_KINDS`) become prose.
    """
    kinds = [segment_kind(s) for s in segments]
    if len(kinds) >= 2 and kinds[0] == PROSE and _is_title(segments[0]):
        kinds[0] = "heading"  # a long title, often run together with its version and author
    if len(kinds) >= 2 and kinds[0] == "heading":
        for index in range(1, min(3, len(kinds))):
            if kinds[index] == "heading" and _looks_like_name(segments[index]):
                kinds[index] = "byline"
            elif kinds[index] != "heading":
                break
    if PROSE not in kinds and any(kind in SOFT_KINDS for kind in kinds):
        kinds = [PROSE if kind in SOFT_KINDS else kind for kind in kinds]
    return kinds


def _unpunctuated(text: str) -> bool:
    """No final punctuation, looking past trailing emoji and symbols ("to the moon! 🚀")."""
    end = len(text)
    while end and not (text[end - 1].isalnum() or text[end - 1] in _TERMINAL):
        end -= 1
    return end > 0 and text[end - 1] not in _TERMINAL


def _is_title(text: str) -> bool:
    """A document's opening line without final punctuation, up to 20 words."""
    text = text.strip()
    return bool(text) and len(text.split()) <= 20 and _unpunctuated(text)


def _looks_like_name(text: str) -> bool:
    words = text.replace(",", " ").split()
    if not 2 <= len(words) <= 8:
        return False
    return all(
        w[:1].isupper()
        and (w[1:].islower() or len(w) <= 3 or w in ("and", "&"))
        or w in ("and", "&")
        for w in words
    )


def is_prose(kind: str) -> bool:
    return kind in PROSE_KINDS


def aggregate_key(text: str) -> str:
    """Identity of a segment for document aggregates: case and spacing do not matter."""
    return " ".join(text.split()).casefold()
