"""Sentence splitting for news, filings, whitepapers and social posts (English and Japanese).

Rule based, dependency free and linear in the length of the text. The rules, in order:

1. Paragraphs: blank lines always end a sentence.
2. Lines: a line break inside a paragraph is a soft wrap (the lines are joined) unless the next
   line starts a list item (``-``, ``*``, ``•``, ``1.``, ``2)``), or the line is itself a list
   item or a short heading without final punctuation. List markers are removed.
3. Inside a line: a sentence ends after ``.``, ``!``, ``?`` or an ellipsis (with any closing
   quotes or brackets that follow) when whitespace and a plausible sentence start (anything
   but a lowercase letter) follow, unless the period belongs to

   * a decimal or a domain (``$35.1 billion``, ``example.com``): no whitespace follows;
   * a title or reference abbreviation (``Dr.``, ``Mr.``, ``e.g.``, ``No.``, ``Fig.``, ``vs.``),
     or a month before a number (``Jan. 5``), or a single initial (``J. P. Morgan``): never a
     boundary;
   * a company suffix or dotted abbreviation that may also close a sentence (``Inc.``,
     ``Corp.``, ``Ltd.``, ``U.S.``, ``etc.``): a boundary only when the next word is a common
     sentence opener (``The``, ``It``, ``We``, ``However`` ...).

4. Japanese: ``。``, ``！``, ``？`` (and their half-width forms ``!``/``?`` when no space
   follows) end a sentence, together with closing brackets, except inside 「」 or 『』 quotes.
5. Pieces without a letter or digit (stray bullets, separators) are dropped, and a piece longer
   than ``max_chars`` is cut at the last clause break (``;``, ``,``, whitespace) before the
   limit, so no sentence is silently truncated by the encoder's token limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from analyzer.scoring.segments import is_line_unit

__all__ = ["split_sentences", "iter_sentences", "DEFAULT_MAX_CHARS"]

DEFAULT_MAX_CHARS = 600

# Titles and references: the period never ends a sentence.
_NEVER_FINAL = frozenset(
    """
    mr mrs ms mx dr prof sr jr st mt rev gen col lt sgt capt cmdr adm gov sen rep pres hon
    no nos fig figs eq eqs vol vols ch chap sec art p pp para approx est ref refs dept
    vs v cf al e.g i.e viz ca
    """.split()
)
# Months: not final before a number ("Jan. 5"), otherwise treated like company suffixes.
_MONTHS = frozenset("jan feb mar apr jun jul aug sep sept oct nov dec".split())
# May close a sentence as well as sit inside one.
_MAYBE_FINAL = frozenset(
    """
    inc corp co ltd llc plc lp llp bros assn intl etc
    """.split()
)
# Words that commonly open an English sentence; after an ambiguous abbreviation they decide.
_SENTENCE_OPENERS = frozenset(
    """
    the a an it its this that these those there their they them he she his her we our us i you
    your in on at for from by with as after before during while when where if but and or so yet
    however meanwhile still also then now today yesterday tomorrow last next shares revenue
    sales analysts investors according its some many most all both each one two three
    """.split()
)

_CLOSERS = "\"'”’»)]}」』）〕】"
_JA_TERMINATORS = "。！？"
# List markers: dashes and bullets, "1." / "2)" / "(3)", and "a)" / "(b)" (not "A.", an initial).
_BULLET_RE = re.compile(r"^\s*(?:[-*•‣◦▪●–—]|\(?\d{1,3}[.)]|\(?[a-z]\)|\([A-Za-z]\))\s+")
# Candidate boundary: terminal punctuation (or ellipsis), closers, then whitespace.
_BOUNDARY_RE = re.compile(
    r"(?P<punct>\.{3,}|…|[.!?]+)(?P<closers>[" + re.escape(_CLOSERS) + r"]*)"
    # Symbol-only tokens after the stop ("moon! 🚀🚀 Next") stay with the sentence.
    r"(?P<trail>(?:[ \t]+[^\w\s]+(?=\s))*)"
    r"(?P<space>\s+)"
)
_JA_BOUNDARY_RE = re.compile(
    r"["
    + _JA_TERMINATORS
    + r"]+["
    + re.escape(_CLOSERS)
    + r"]*|(?<=[\u3040-\u30ff\u4e00-\u9fff])[!?]+"
)
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_DOTTED_RE = re.compile(r"^(?:[A-Za-z]\.){1,}[A-Za-z]?$")
_HAS_CONTENT_RE = re.compile(r"\w")


def split_sentences(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Split ``text`` into sentences (see the module docstring for the rules).

    >>> split_sentences("Nvidia Corp. reported $35.1 billion. Shares rose 3%.")
    ['Nvidia Corp. reported $35.1 billion.', 'Shares rose 3%.']
    """
    return list(iter_sentences(text, max_chars=max_chars))


def iter_sentences(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> Iterator[str]:
    """Yield sentences one by one, so a caller can stop early on a huge document."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    for block in _blocks(text):
        for sentence in _split_block(block):
            sentence = sentence.strip()
            if not _HAS_CONTENT_RE.search(sentence):
                continue
            yield from _cap_length(sentence, max_chars)


# --------------------------------------------------------------------------- blocks and lines


def _blocks(text: str) -> Iterator[str]:
    """Paragraphs and list items, with soft line wraps joined."""
    text = (
        text.replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\u2028", "\n")
        .replace("\u2029", "\n\n")
    )
    for paragraph in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for raw_line in paragraph.split("\n"):
            line = raw_line.strip()
            if not line:
                continue
            bullet = _BULLET_RE.match(line)
            if bullet:
                if current:
                    yield _join_lines(current)
                current = [line[bullet.end() :]]
                continue
            if current and _ends_line_unit(current[-1]):
                yield _join_lines(current)
                current = []
            current.append(line)
        if current:
            yield _join_lines(current)


def _ends_line_unit(line: str) -> bool:
    """A heading or label line ("Risk Factors", "Q3 2024 Results") stands on its own.

    Only short lines in title case without final punctuation count, so a narrow column
    wrapped mid-sentence ("The company said on") is still joined with the next line.
    """
    if is_line_unit(line):
        return True
    words = line.split()
    if not words or len(words) > 8 or line[-1] in ".,;:!?…-–(&/" + _JA_TERMINATORS:
        return False
    long_words = [w for w in words if len(w) >= 4 and w[:1].isalpha()]
    return bool(long_words) and all(w[:1].isupper() for w in long_words)


def _join_lines(lines: list[str]) -> str:
    joined = lines[0]
    for line in lines[1:]:
        if _is_cjk(joined[-1:]) and _is_cjk(line[:1]):
            joined += line
        elif (
            joined.endswith("-") and len(joined) > 1 and joined[-2].isalpha() and line[:1].islower()
        ):
            joined = joined[:-1] + line  # a word hyphenated across a line wrap
        else:
            joined += " " + line
    return joined


def _is_cjk(ch: str) -> bool:
    return bool(ch) and ("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")


# --------------------------------------------------------------------------- within a block


def _split_block(block: str) -> Iterator[str]:
    for piece in _split_japanese(block):
        yield from _split_latin(piece)


def _split_japanese(block: str) -> Iterator[str]:
    if not any(ch in block for ch in _JA_TERMINATORS + "!?"):
        yield block
        return
    start = 0
    for match in _JA_BOUNDARY_RE.finditer(block):
        if _quote_depth(block, start, match.start()) > 0:
            continue
        yield block[start : match.end()]
        start = match.end()
    if start < len(block):
        yield block[start:]


def _quote_depth(text: str, start: int, end: int) -> int:
    segment = text[start:end]
    return (segment.count("「") - segment.count("」")) + (segment.count("『") - segment.count("』"))


def _split_latin(block: str) -> Iterator[str]:
    start = 0
    for match in _BOUNDARY_RE.finditer(block):
        after = match.end()
        if after >= len(block):
            break
        if _is_boundary(block, match, after):
            yield block[start : match.start("space")]
            start = after
    if start < len(block):
        yield block[start:]


def _is_boundary(block: str, match: re.Match[str], after: int) -> bool:
    punct = match.group("punct")
    next_word = re.match(r"[^\s]+", block[after:])
    next_token = next_word.group(0) if next_word else ""
    first = next_token[:1]
    if first.islower():
        return False
    if not _HAS_CONTENT_RE.search(next_token):
        return False  # trailing emoji or symbols ("to the moon! 🚀") belong to this sentence
    if punct != ".":
        # "!", "?", "?!", "..." and "…": a capital or other non-lowercase start decides.
        return True
    if match.group("closers"):
        return True  # 'He called it "huge." The' : the quote closes the sentence.
    before = _WORD_BEFORE_RE.search(block[: match.start()])
    if not before:
        return True  # after a digit, a symbol or a closing bracket
    word = before.group(1)
    key = word.lower().rstrip(".")
    bare_next = next_token.strip("\"'“‘([").rstrip(".,;:!?").lower()
    if key in _NEVER_FINAL:
        return False
    if len(word) == 1 and word.isupper():
        return False  # an initial: "J. P. Morgan", "John D. Rockefeller"
    if key in _MONTHS:
        return not first.isdigit() and bare_next in _SENTENCE_OPENERS
    if key in _MAYBE_FINAL or (_DOTTED_RE.match(word) and "." in word):
        return bare_next in _SENTENCE_OPENERS
    return True


def _cap_length(sentence: str, max_chars: int) -> Iterator[str]:
    while len(sentence) > max_chars:
        window = sentence[:max_chars]
        cut = max(window.rfind("; "), window.rfind(", "), window.rfind("、"))
        if cut < max_chars // 2:
            cut = window.rfind(" ")
        if cut < max_chars // 2:
            cut = max_chars - 1
        head, sentence = sentence[: cut + 1].strip(), sentence[cut + 1 :].strip()
        if head:
            yield head
    if sentence:
        yield sentence
