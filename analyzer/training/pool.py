"""The candidate pool of the real-text labelled set: which sentences of others' text get labelled.

:func:`build_pool` reads a folder of original files (with the ``FILES.tsv`` inventory that gives
every file's origin), locates every English sentence in the kinds of material listed in
:data:`SOURCE_FILES` (:mod:`.locate`), and draws a stratified, deduplicated, deterministic
sample from it:

1. **Population.** Every sentence unit the splitter produces, prose or not, per source type.
   For article pages the random stratum is drawn from the sentences that readability's
   extraction of the page also holds (what an article extractor feeds the classifier); the
   rest of the page (navigation, share buttons, footers) can enter only as fragments.
2. **Deduplication.** Identical sentences (after Unicode, case and spacing normalisation) are
   kept once. Documents of different files (or entries of the research sets) that share a
   sentence of six words or more, or a near-identical one (the same words with other
   figures), are merged into one document group, so an item syndicated to two feeds or a
   templated variant cannot sit in two splits. The pages or sections of one whitepaper or
   filing stay separate documents.
3. **Strata** per source type (quota in :data:`DEFAULT_QUOTAS`):
   ``random`` (a uniform sample, the basis for natural rates), ``fragment`` (non-prose units:
   headings, bylines, captions, table cells, formulas, boilerplate, up to a modest share),
   ``hype:*`` and ``growth:*`` (likely positives, drawn across score bands of the current model,
   most from the highest, and from a small cue lexicon, a cue match weighing three times in
   each band, so hard negatives the model gets wrong come along too),
   ``evidence:*`` where evidence is rare, and ``fill`` (uniform, when a band runs short).
4. **Splits by document group**: groups are assigned to train/validation/test (about 60/20/20
   of the selected sentences per source type) largest first, each to the split furthest
   below its target, ties broken by a hash of the group key.

Everything is deterministic for a given seed, set of originals and model.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.scoring.segments import PROSE_KINDS, segment_kind
from analyzer.training import locate
from analyzer.training.annotations import (
    LABELS,
    annotation_id,
    pypdf_major_version,
    sentence_sha256,
    write_annotations,
)

__all__ = [
    "DEFAULT_QUOTAS",
    "SOURCE_FILES",
    "SPLIT_TARGETS",
    "Candidate",
    "PoolResult",
    "append_supplement",
    "build_pool",
    "build_supplement",
    "collect_candidates",
    "english_share",
    "normalise",
    "read_inventory",
    "sentence_shape",
    "write_batches",
]

SOURCE_TYPES = ("feed", "article", "whitepaper", "filing", "phrasebank", "fiqa", "semeval")
SPLIT_TARGETS = (("train", 0.6), ("validation", 0.2), ("test", 0.2))

# Per source type: how many sentences in all, and the share of each stratum. Whatever a
# stratum cannot fill goes to ``fill``.
DEFAULT_QUOTAS: dict[str, dict[str, Any]] = {
    "feed": {
        "total": 1200,
        "random": 0.33,
        "fragment": 0.08,
        "hype": 0.38,
        "growth": 0.15,
        "evidence": 0.06,
    },
    "article": {
        "total": 1100,
        "random": 0.33,
        "fragment": 0.10,
        "hype": 0.36,
        "growth": 0.15,
        "evidence": 0.06,
    },
    "whitepaper": {
        "total": 520,
        "random": 0.45,
        "fragment": 0.08,
        "hype": 0.25,
        "growth": 0.14,
        "evidence": 0.08,
    },
    "filing": {"total": 330, "random": 0.40, "fragment": 0.06, "hype": 0.25, "growth": 0.25},
    "phrasebank": {"total": 620, "random": 0.35, "hype": 0.38, "growth": 0.27},
    "fiqa": {"total": 560, "random": 0.35, "hype": 0.45, "growth": 0.20},
    "semeval": {"total": 470, "random": 0.35, "hype": 0.35, "growth": 0.30},
}
# Score bands of the current model for the oversampled strata, highest first, and the cue
# stratum that reaches sentences the model scores low.
# Each band has a share of its label's quota; most goes where positives are likeliest.
_BANDS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "hype": ((0.9, 1.01, 0.35), (0.7, 0.9, 0.25), (0.5, 0.7, 0.15), (0.3, 0.5, 0.1)),
    "growth": ((0.8, 1.01, 0.45), (0.5, 0.8, 0.3), (0.3, 0.5, 0.1)),
    "evidence": ((0.8, 1.01, 0.6), (0.5, 0.8, 0.4)),
}
_CUE_SHARE = {"hype": 0.15, "growth": 0.15}

# Which files of the originals folder feed which source type (paths inside that folder).
SOURCE_FILES: tuple[tuple[str, str, str], ...] = (
    # (source type, regular expression over local_path, reader)
    ("feed", r"feeds/rss-parser/test/input/[^/]+\.(?:rss|atom|xml)", "feed"),
    (
        "feed",
        r"feeds/feed-rs/feed-rs/fixture/(?:atom|rss0|rss1|rss2|jsonfeed)/(?![^/]*\.serde\.json$)[^/]+\.(?:xml|json)",
        "feed",
    ),
    (
        "feed",
        r"feeds/netnewswire/Modules/RSParser/Tests/RSParserTests/Resources/[^/]+\.(?:rss|atom|rdf|xml|json)",
        "feed",
    ),
    ("feed", r"feeds/feedjira/[^/]+/spec/sample_feeds/[^/]+\.(?:xml|json)", "feed"),
    ("article", r"articles/mozilla-readability/test/test-pages/[^/]+/source\.html", "article"),
    ("whitepaper", r"whitepapers/bitcoin/bitcoincore\.org/bitcoin\.pdf", "pdf"),
    ("whitepaper", r"whitepapers/coreum/whitepaper\.pdf", "pdf"),
    ("whitepaper", r"whitepapers/solana/solana-whitepaper-en\.tex", "latex"),
    (
        "filing",
        r"financial/sec-edgar/[^/]+/tests/fixtures/entity_storage/sec_data/apple_10k_item1_business\.json",
        "filing-json",
    ),
    (
        "filing",
        r"financial/sec-edgar/[^/]+/tests/fixtures/entity_storage/sec_data/apple_10k_2025\.htm",
        "filing-html",
    ),
    ("phrasebank", r"labeled/financial_phrasebank/data/Sentences_50Agree\.txt", "phrasebank"),
    ("fiqa", r"labeled/fiqa_semeval2017/data/en/FiQA_post\.json", "fiqa"),
    ("semeval", r"labeled/fiqa_semeval2017/data/en/SemEval2017Task5Headlines\.json", "semeval"),
)

# --------------------------------------------------------------------------- small text tests

# Words frequent in English and rare as words of the other languages in the feeds.
_ENGLISH_WORDS = frozenset(
    """
    the and of to is are was were that this with for on it its by from be been has have had which
    will would can could not but or as at an they their we our you your he she his her who what
    when there than more about into after over also said says how all just like
    """.split()
)
_WORD_RE = re.compile(r"[^\W\d_]+")


def english_share(text: str) -> float:
    words = [w.lower() for w in _WORD_RE.findall(text)]
    return sum(w in _ENGLISH_WORDS for w in words) / len(words) if words else 0.0


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    return sum("LATIN" in unicodedata.name(ch, "") for ch in letters) / len(letters)


def _unit_is_english(text: str) -> bool:
    from analyzer.scoring.language import detect_language

    return detect_language(text[:4000]) == "en" or english_share(text[:4000]) >= 0.2


def _sentence_is_english(text: str, unit_english: bool) -> bool:
    if _latin_share(text) < 0.9:
        return False
    words = _WORD_RE.findall(text)
    if len(words) < 5:
        return unit_english
    share = english_share(text)
    return share >= 0.12 or (unit_english and share >= 0.05)


# The shape of a unit is its segment kind: one implementation, shared with the document step
# (analyzer.scoring.segments), so the pool's fragment stratum draws what scoring leaves out.
PROSE_SHAPES = PROSE_KINDS


def sentence_shape(text: str, hint: str | None = None, furniture: bool = False) -> str:
    """``prose`` or ``headline`` (a feed item's or a news headline's title), or the kind of
    non-prose unit (:func:`analyzer.scoring.segments.segment_kind`). For sampling only: the
    labels, not this, say what a sentence is."""
    return segment_kind(text, hint, furniture)


_HYPE_CUES = re.compile(
    r"!|\b(?:revolution\w*|game[- ]?chang\w*|groundbreaking|breakthrough\w*|unprecedented|incredibl\w*|amazing\w*|"
    r"awesome|massive\w*|huge|insane\w*|explosive|skyrocket\w*|soar\w*|moon\w*|rocket\w*|best[- ]ever|"
    r"world'?s (?:first|best|leading|largest)|world[- ]class|cutting[- ]edge|state[- ]of[- ]the[- ]art|"
    r"next[- ]generation|seamless\w*|unparalleled|unmatched|unrival\w*|disrupt\w*|transform\w*|paradigm|"
    r"limitless|unlimited|infinite|exponential\w*|\d+x\b|must[- ]have|don'?t miss|biggest|greatest|ultimate|"
    r"stunning|magic\w*|extraordinary|remarkabl\w*|phenomenal|lightning[- ]fast|blazing\w*|supercharg\w*|"
    r"empower\w*|unlock\w*|future of|change the world|changes everything|love|beautiful|gorgeous|killer|"
    r"bullish|to the moon|all[- ]time high|record[- ]breaking|leading|innovative|powerful|exciting|thrilled)\b",
    re.IGNORECASE,
)
_GROWTH_CUES = re.compile(
    r"\b(?:will|expects?|expected|expecting|forecasts?|projected|projects|plans?|planned|outlook|guidance|"
    r"anticipat\w*|going forward|next (?:year|quarter|decade)|by 20\d\d|in 20[3-9]\d|grow\w*|expand\w*|"
    r"potential|opportunit\w*|poised|aims? to|target\w*|future|upcoming|set to|on track)\b",
    re.IGNORECASE,
)


_CUES: dict[str, re.Pattern[str]] = {"hype": _HYPE_CUES, "growth": _GROWTH_CUES}


def normalise(text: str) -> str:
    """The form two copies of a sentence share (Unicode, case, spacing and outer quotes)."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return text.strip(" \"'“”‘’()[]")


def _template(normalised: str) -> str:
    return re.sub(r"\d+(?:[.,]\d+)*", "#", normalised)


def _hash_unit(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).hexdigest()[:12]
    return int(digest, 16) / float(16**12)


# --------------------------------------------------------------------------- candidates


@dataclass
class Candidate:
    """A located English sentence with everything its annotation and its batch line need."""

    located: locate.Located
    source_type: str
    document: str
    origin: dict[str, str]
    shape: str
    in_article: bool
    context: dict[str, str | None]
    scores: dict[str, float] = field(default_factory=dict)
    stratum: str | None = None
    group: str | None = None
    split: str | None = None

    @property
    def text(self) -> str:
        return self.located.text

    @property
    def sha256(self) -> str:
        return sentence_sha256(self.located.text)

    @property
    def id(self) -> str:
        where = self.located.pointer if self.located.pointer is not None else self.located.page
        return annotation_id(
            self.origin["origin_repo"],
            self.origin["origin_path"],
            self.located.extractor,
            where,
            self.located.start,
            self.located.end,
        )

    def annotation(self) -> dict[str, Any]:
        loc = self.located
        return {
            "id": self.id,
            **self.origin,
            "local_path": loc.local_path,
            "extractor": loc.extractor,
            "encoding": loc.encoding if loc.encoding not in (None, "utf-8") else None,
            "pointer": loc.pointer,
            "page": loc.page,
            "extractor_version": pypdf_major_version() if loc.extractor == "pdf" else None,
            "start": loc.start,
            "end": loc.end,
            "sha256": self.sha256,
            "source_type": self.source_type,
            "document": self.group or self.document,
            "split": self.split,
            "stratum": self.stratum,
            "shape": self.shape,
        }


def read_inventory(sources_dir: Path) -> dict[str, dict[str, str]]:
    """``local_path -> {origin_repo, origin_commit, origin_path}`` from ``FILES.tsv``."""
    inventory_file = sources_dir / "FILES.tsv"
    if not inventory_file.is_file():
        raise InputError(
            f"{sources_dir} has no FILES.tsv (the inventory giving each file's origin)"
        )
    inventory: dict[str, dict[str, str]] = {}
    with open(inventory_file, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            if row.get("local_path") and row.get("origin_repo"):
                inventory[row["local_path"]] = {
                    "origin_repo": row["origin_repo"],
                    "origin_commit": row.get("origin_commit", "-"),
                    "origin_path": row.get("origin_path", "-"),
                }
    return inventory


_ITEM_HEADING_RE = re.compile(r"^item\s+(\d{1,2}[a-c]?)\.?(?:\s|$)", re.IGNORECASE)


def _filing_sections(units: list[locate.Unit], filing: str) -> list[tuple[locate.Unit, list[str]]]:
    """Documents of a filing by item ("Item 1A."): each sentence gets its section's key."""
    out: list[tuple[locate.Unit, list[str]]] = []
    for unit in units:
        section = "cover"
        keys: list[str] = []
        for located in unit.sentences:
            heading = _ITEM_HEADING_RE.match(located.text)
            if heading and len(located.text.split()) <= 12:
                section = "item" + heading.group(1).lower()
            keys.append(f"{filing}:{section}")
        out.append((unit, keys))
    return out


def _read_units(reader: str, path: Path, local_path: str) -> list[locate.Unit]:
    if reader == "feed":
        return locate.read_feed(path, local_path)
    if reader in ("article", "filing-html"):
        return locate.read_html_page(path, local_path)
    if reader == "pdf":
        return locate.read_pdf(path, local_path)
    if reader == "latex":
        return locate.read_latex(path, local_path)
    if reader == "filing-json":
        return locate.read_json_text(
            path, local_path, ("item1_business_text",), title="Item 1. Business"
        )
    if reader == "phrasebank":
        return locate.read_phrasebank(path, local_path)
    if reader == "fiqa":
        return locate.read_fiqa(path, local_path)
    if reader == "semeval":
        return locate.read_semeval(path, local_path)
    raise ValueError(reader)


_LATEX_COMMAND_ONLY = re.compile(r"^(?:\\[A-Za-z]+\*?(?:\[[^\]]*\])?(?:\{[^{}]*\})*\s*)+$")


def _article_metadata(path: Path) -> tuple[str | None, str | None, set[str]]:
    """Language, title and the normalised sentences readability extracted for a test page."""
    metadata_file = path.parent / "expected-metadata.json"
    expected_file = path.parent / "expected.html"
    language = title = None
    if metadata_file.is_file():
        try:
            metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
            language, title = metadata.get("lang"), metadata.get("title")
        except (ValueError, UnicodeDecodeError):
            pass
    expected = locate.html_visible_sentences(expected_file) if expected_file.is_file() else []
    if not language and expected:
        language = "en" if _unit_is_english(" ".join(expected)) else "other"
    return language, title, {normalise(s) for s in expected}


def collect_candidates(
    sources_dir: Path, *, progress: Callable[[str], None] | None = None
) -> list[Candidate]:
    """Every English sentence of the source files, in a fixed order, before deduplication."""
    inventory = read_inventory(sources_dir)
    candidates: list[Candidate] = []
    for source_type, pattern, reader in SOURCE_FILES:
        matcher = re.compile(pattern)
        for local_path in sorted(p for p in inventory if matcher.fullmatch(p)):
            path = sources_dir / local_path
            if not path.is_file():
                continue
            in_article_set: set[str] | None = None
            title_override = None
            if reader == "article":
                language, title_override, in_article_set = _article_metadata(path)
                if not (language or "").lower().startswith("en"):
                    continue
            units = _read_units(reader, path, local_path)
            if reader.startswith("filing"):
                filing = "apple-10k-2025"
                sections = (
                    _filing_sections(units, filing)
                    if reader == "filing-html"
                    else [(u, [f"{filing}:item1"] * len(u.sentences)) for u in units]
                )
            else:
                sections = [(u, [_document_key(source_type, u)] * len(u.sentences)) for u in units]
            for unit, documents in sections:
                unit_text = " ".join(s.text for s in unit.sentences)
                labelled_set = source_type in ("phrasebank", "fiqa", "semeval")
                unit_english = labelled_set or _unit_is_english(unit_text)
                title = title_override or unit.title
                for index, located in enumerate(unit.sentences):
                    if reader == "latex" and _LATEX_COMMAND_ONLY.match(located.text):
                        continue  # markup a reader of the paper never sees
                    if not labelled_set and not _sentence_is_english(located.text, unit_english):
                        continue
                    in_article = in_article_set is None or normalise(located.text) in in_article_set
                    context = {
                        "title": title if title and title != located.text else None,
                        "previous": unit.sentences[index - 1].text if index > 0 else None,
                        "next": unit.sentences[index + 1].text
                        if index + 1 < len(unit.sentences)
                        else None,
                    }
                    candidates.append(
                        Candidate(
                            located=located,
                            source_type=source_type,
                            document=documents[index],
                            origin=inventory[local_path],
                            shape=sentence_shape(located.text, located.hint, located.furniture),
                            in_article=in_article,
                            context=context,
                        )
                    )
            if progress:
                progress(
                    f"{source_type:<10} {local_path}: {sum(len(u.sentences) for u in units)} sentences"
                )
    return candidates


def _document_key(source_type: str, unit: locate.Unit) -> str:
    # A feed file is one document: its items share a publisher, a period and boilerplate.
    return unit.local_path if source_type in ("feed", "article") else unit.key


# --------------------------------------------------------------------------- dedup and groups


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            # The smaller key names the group, so group names do not depend on merge order.
            keep, drop = sorted((root_a, root_b))
            self.parent[drop] = keep


def _merges(first: Candidate, other: Candidate) -> bool:
    """Whether a shared sentence ties two documents together. Across files always (a feed item
    syndicated twice, a filing section published as HTML and as JSON); within one file only
    for one-entry documents: the sections of one paper or filing stay separate documents (the
    copy is kept once anyway)."""
    if first.source_type in ("filing", "whitepaper") and other.source_type == first.source_type:
        return False  # their documents are named sections of one paper or filing already
    return first.located.local_path != other.located.local_path or first.source_type in (
        "phrasebank",
        "fiqa",
        "semeval",
    )


def deduplicate(candidates: Sequence[Candidate]) -> list[Candidate]:
    """One candidate per normalised sentence (the first), each with its document group."""
    groups = _UnionFind()
    first_by_text: dict[str, Candidate] = {}
    first_by_template: dict[str, Candidate] = {}
    for candidate in candidates:
        groups.find(candidate.document)
        key = normalise(candidate.text)
        words = len(key.split())
        if key in first_by_text:
            first = first_by_text[key]
            if words >= 6 and _merges(first, candidate):
                groups.union(first.document, candidate.document)
            continue
        first_by_text[key] = candidate
        if words >= 8:
            template = _template(key)
            if template in first_by_template:
                if _merges(first_by_template[template], candidate):
                    groups.union(first_by_template[template].document, candidate.document)
            else:
                first_by_template[template] = candidate
    kept = list(first_by_text.values())
    for candidate in kept:
        candidate.group = groups.find(candidate.document)
    return kept


# --------------------------------------------------------------------------- scoring


def score_candidates(
    candidates: Sequence[Candidate],
    cache_file: Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Attach the current model's scores to each candidate; returns the model version.

    Scores are cached by sentence hash and model version in ``cache_file`` (a JSON file) so a
    rebuild does not score again.
    """
    from analyzer.scoring.scorer import HypeScorer

    scorer = HypeScorer.from_pretrained()
    version = scorer.model_version
    cache: dict[str, list[float]] = {}
    if cache_file and cache_file.is_file():
        stored = json.loads(cache_file.read_text(encoding="utf-8"))
        if stored.get("model_version") == version:
            cache = stored.get("scores", {})
    todo = sorted({c.sha256: c.text for c in candidates if c.sha256 not in cache}.items())
    if todo:
        try:
            scorer.use_backend("auto")
        except Exception:  # the plain torch path scores the same, only slower
            scorer.use_backend(None)
        step = 2000
        for begin in range(0, len(todo), step):
            chunk = todo[begin : begin + step]
            results = scorer.score([text for _, text in chunk])
            for (sha, _), result in zip(chunk, results):
                cache[sha] = [round(float(result[label]), 4) for label in LABELS]
            if progress:
                progress(f"scored {min(begin + step, len(todo))}/{len(todo)}")
            if cache_file:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                cache_file.write_text(
                    json.dumps({"model_version": version, "scores": cache}), encoding="utf-8"
                )
    for candidate in candidates:
        candidate.scores = dict(zip(LABELS, cache[candidate.sha256]))
    return version


# --------------------------------------------------------------------------- selection


def _take(
    rng: random.Random,
    pool: Sequence[Candidate],
    count: int,
    stratum: str,
    chosen: set[str],
    prefer: re.Pattern[str] | None = None,
) -> int:
    """Draw ``count`` candidates not yet chosen; with ``prefer``, a candidate whose text
    matches it is three times as likely to be drawn (weighted sampling without replacement)."""
    available = [c for c in pool if c.id not in chosen]
    if count <= 0 or not available:
        return 0
    if prefer is None:
        picked = rng.sample(available, min(count, len(available)))
    else:
        keys = [
            (rng.random() ** (1 / (3.0 if prefer.search(c.text) else 1.0)), c.id, c)
            for c in available
        ]
        picked = [c for _, _, c in sorted(keys, key=lambda k: (-k[0], k[1]))[:count]]
    for candidate in picked:
        candidate.stratum = stratum
        chosen.add(candidate.id)
    return len(picked)


def _label_strata(
    label: str, prose: Sequence[Candidate]
) -> list[tuple[str, float, list[Candidate]]]:
    """``(name, share, members)`` per score band of ``label``, then the cue stratum."""
    strata = [
        (
            f"{label}:{low:.1f}-{min(high, 1.0):.1f}",
            share,
            [c for c in prose if low <= c.scores[label] < high],
        )
        for low, high, share in _BANDS[label]
    ]
    cues = _CUES.get(label)
    if cues is not None:
        low_bound = _BANDS[label][-1][0]
        strata.append(
            (
                f"{label}:cue",
                _CUE_SHARE[label],
                [c for c in prose if c.scores[label] < low_bound and cues.search(c.text)],
            )
        )
    return strata


def _take_label(
    rng: random.Random, label: str, prose: Sequence[Candidate], want: int, chosen: set[str]
) -> int:
    """Likely positives of ``label`` across its strata; what a thin stratum cannot give
    passes to the next ones."""
    strata = _label_strata(label, prose)
    remaining, taken = want, 0
    share_left = sum(share for _, share, _ in strata)
    for name, share, members in strata:
        quota = math.ceil(remaining * share / share_left) if share_left > 0 else remaining
        got = _take(rng, members, quota, name, chosen, prefer=_CUES.get(label))
        remaining -= got
        taken += got
        share_left -= share
    return taken


def select(
    candidates: Sequence[Candidate], quotas: dict[str, dict[str, Any]], seed: int
) -> list[Candidate]:
    """The stratified sample (module docstring); sets each candidate's ``stratum``."""
    selected: list[Candidate] = []
    for source_type in SOURCE_TYPES:
        quota = quotas.get(source_type)
        members = sorted(
            (c for c in candidates if c.source_type == source_type), key=lambda c: c.id
        )
        if not quota or not members:
            continue
        rng = random.Random(f"{seed}:{source_type}")
        total = min(int(quota["total"]), len(members))
        chosen: set[str] = set()
        population = [c for c in members if c.in_article]
        taken = _take(rng, population, round(total * quota.get("random", 0)), "random", chosen)
        fragments = [c for c in members if c.shape not in PROSE_SHAPES]
        fragment_target = round(total * quota.get("fragment", 0))
        already = sum(1 for c in members if c.id in chosen and c.shape not in PROSE_SHAPES)
        taken += _take(rng, fragments, fragment_target - already, "fragment", chosen)
        prose = [c for c in population if c.shape in PROSE_SHAPES]
        for label in LABELS:
            taken += _take_label(rng, label, prose, round(total * quota.get(label, 0)), chosen)
        taken += _take(rng, population, total - taken, "fill", chosen)
        selected += [c for c in members if c.id in chosen]
    return selected


def select_supplement(
    candidates: Sequence[Candidate],
    existing_ids: set[str],
    wants: dict[str, int],
    seed: int,
    round_name: str,
    top: bool = False,
) -> list[Candidate]:
    """More likely positives for labels that came out short, drawn from prose not in the pool,
    spread over source types in proportion to their prose; strata are named
    ``<round>:<label>:<band>`` so natural rates still come from the ``random`` stratum only.

    With ``top``, each source type's share is its highest-scoring sentences (stratum
    ``<round>:<label>:top``) instead of a draw across score bands: when positives are rare,
    the bands below the top mostly yield negatives, and labelling time is better spent on
    the likeliest positives."""
    chosen = set(existing_ids)
    prose = sorted(
        (
            c
            for c in candidates
            if c.in_article and c.shape in PROSE_SHAPES and c.id not in existing_ids
        ),
        key=lambda c: c.id,
    )
    supplement: list[Candidate] = []
    for label, want in wants.items():
        if label not in LABELS:
            raise InputError(f"unknown label {label!r} for a supplement (use {', '.join(LABELS)})")
        by_type = {t: [c for c in prose if c.source_type == t] for t in SOURCE_TYPES}
        total = sum(len(m) for m in by_type.values()) or 1
        for source_type, members in by_type.items():
            rng = random.Random(f"{seed}:{round_name}:{label}:{source_type}")
            before = set(chosen)
            quota = round(want * len(members) / total)
            if top:
                ranked = sorted(
                    (c for c in members if c.id not in chosen),
                    key=lambda c: (-c.scores[label], c.id),
                )
                for candidate in ranked[:quota]:
                    candidate.stratum = f"{label}:top"
                    chosen.add(candidate.id)
            else:
                _take_label(rng, label, members, quota, chosen)
            for candidate in members:
                if candidate.id in chosen and candidate.id not in before:
                    candidate.stratum = f"{round_name}:{candidate.stratum}"
                    supplement.append(candidate)
    return supplement


def assign_splits(selected: Sequence[Candidate], seed: int) -> None:
    """Each document group to one split, balancing selected sentences per source type."""
    by_group: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in selected:
        by_group[candidate.group or candidate.document].append(candidate)
    group_type = {
        g: Counter(c.source_type for c in members).most_common(1)[0][0]
        for g, members in by_group.items()
    }
    for source_type in SOURCE_TYPES:
        groups = [g for g in by_group if group_type[g] == source_type]
        groups.sort(key=lambda g: (-len(by_group[g]), _hash_unit(g, seed)))
        filled = dict.fromkeys((name for name, _ in SPLIT_TARGETS), 0)
        total = sum(len(by_group[g]) for g in groups)
        for group in groups:
            # The split furthest below its target share takes the next largest group.
            name = max(SPLIT_TARGETS, key=lambda t: (t[1] * total - filled[t[0]]) / t[1])[0]
            filled[name] += len(by_group[group])
            for candidate in by_group[group]:
                candidate.split = name


# --------------------------------------------------------------------------- the whole build


@dataclass
class PoolResult:
    selected: list[Candidate]
    stats: dict[str, Any]


def build_pool(
    sources_dir: str | Path,
    *,
    seed: int = 10,
    quotas: dict[str, dict[str, Any]] | None = None,
    score_cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> PoolResult:
    """Locate, deduplicate, score, sample and split (see the module docstring)."""
    sources_dir = Path(sources_dir)
    quotas = quotas or DEFAULT_QUOTAS
    located = collect_candidates(sources_dir, progress=progress)
    unique = deduplicate(located)
    model_version = score_candidates(
        [c for c in unique if c.in_article], score_cache, progress=progress
    )
    selected = select(unique, quotas, seed)
    score_candidates([c for c in selected if not c.scores], score_cache, progress=progress)
    assign_splits(selected, seed)
    selected.sort(key=lambda c: c.id)
    stats = pool_stats(located, unique, selected, seed=seed, model_version=model_version)
    return PoolResult(selected, stats)


def score_candidates_lexical(
    candidates: Sequence[Candidate], labelled: Sequence[dict[str, Any]]
) -> str:
    """Attach scores from a word and character n-gram logistic regression trained on the
    labelled annotations of the train split (materialised, so each has ``text``).

    A selector, not a model of the labels: it only ranks unlabelled sentences for the next
    labelling round. It is fitted in seconds on the real text the labellers saw, where the
    shipped model's scores lean on the written corpus' cues. Returns a version string naming
    the selector and what it was fitted on."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train = [row for row in labelled if row.get("split") == "train" and row.get("text")]
    if not train:
        raise InputError("the lexical selector needs labelled train-split annotations with text")
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True)
    texts = [row["text"] for row in train]
    features = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    unseen = hstack(
        [
            words.transform([c.text for c in candidates]),
            chars.transform([c.text for c in candidates]),
        ]
    ).tocsr()
    for label in LABELS:
        y = [int(row[label]) for row in train]
        if len(set(y)) < 2:
            probabilities = [float(y[0])] * len(candidates)
        else:
            model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
            probabilities = model.fit(features, y).predict_proba(unseen)[:, 1].tolist()
        for candidate, probability in zip(candidates, probabilities):
            candidate.scores[label] = round(float(probability), 4)
    digest = hashlib.sha256(
        "\n".join(sorted(str(row["sha256"]) for row in train)).encode("utf-8")
    ).hexdigest()[:12]
    return f"lexical-lr:{len(train)}:{digest}"


def build_supplement(
    sources_dir: str | Path,
    existing: Sequence[dict[str, Any]],
    wants: dict[str, int],
    *,
    seed: int = 10,
    round_name: str = "s1",
    score_cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
    top: bool = False,
    labelled: Sequence[dict[str, Any]] | None = None,
) -> PoolResult:
    """Extra likely positives for an existing pool (which stays as it is): a document group
    that already has a split keeps it, new groups are balanced as in :func:`assign_splits`."""
    if any(str(row.get("stratum", "")).startswith(round_name + ":") for row in existing):
        raise InputError(
            f"the pool already holds a supplement named {round_name!r}; choose another --round"
        )
    located = collect_candidates(Path(sources_dir), progress=progress)
    unique = deduplicate(located)
    scored = [c for c in unique if c.in_article]
    if labelled is not None:
        # With labels in hand, rank by a selector fitted on them (see score_candidates_lexical).
        model_version = score_candidates_lexical(scored, labelled)
    else:
        model_version = score_candidates(scored, score_cache, progress=progress)
    existing_ids = {row["id"] for row in existing}
    existing_texts = {row["sha256"] for row in existing}
    fresh = [c for c in unique if c.sha256 not in existing_texts]
    supplement = select_supplement(fresh, existing_ids, wants, seed, round_name, top=top)
    split_of_group = {row["document"]: row["split"] for row in existing}
    new_groups = [c for c in supplement if (c.group or c.document) not in split_of_group]
    assign_splits(new_groups, seed)
    for candidate in supplement:
        if (candidate.group or candidate.document) in split_of_group:
            candidate.split = split_of_group[candidate.group or candidate.document]
    supplement.sort(key=lambda c: c.id)
    stats = {
        "round": round_name,
        "seed": seed,
        "model_version": model_version,
        "wanted": dict(wants),
        "sentences": len(supplement),
        "by_source_type": dict(sorted(Counter(c.source_type for c in supplement).items())),
        "strata": dict(sorted(Counter(c.stratum for c in supplement).items())),
        "splits": dict(sorted(Counter(c.split for c in supplement).items())),
    }
    return PoolResult(supplement, stats)


def pool_stats(
    located: Sequence[Candidate],
    unique: Sequence[Candidate],
    selected: Sequence[Candidate],
    *,
    seed: int,
    model_version: str,
) -> dict[str, Any]:
    """Composition of the pool, and what the current model and the shape heuristic say about
    each source type's uniform sample (estimates only: labels replace them)."""

    def rates(members: Sequence[Candidate]) -> dict[str, Any]:
        n = len(members)
        return {
            "sentences": n,
            "model_above_0.5": {
                label: round(sum(c.scores[label] > 0.5 for c in members) / n, 3) if n else None
                for label in LABELS
            },
            "non_prose_share": round(sum(c.shape not in PROSE_SHAPES for c in members) / n, 3)
            if n
            else None,
        }

    stats: dict[str, Any] = {
        "seed": seed,
        "model_version": model_version,
        "located_sentences": len(located),
        "unique_sentences": len(unique),
        "pool_sentences": len(selected),
        "by_source_type": {},
        "strata": dict(sorted(Counter(_stratum_family(c.stratum) for c in selected).items())),
        "shapes": dict(sorted(Counter(c.shape for c in selected).items())),
        "splits": dict(Counter(c.split for c in selected)),
        "documents": {
            name: len({c.group for c in selected if c.split == name}) for name, _ in SPLIT_TARGETS
        },
    }
    for source_type in SOURCE_TYPES:
        members = [c for c in selected if c.source_type == source_type]
        if not members:
            continue
        population = [c for c in unique if c.source_type == source_type]
        stats["by_source_type"][source_type] = {
            "located": sum(1 for c in located if c.source_type == source_type),
            "unique": len(population),
            "files": len({c.located.local_path for c in population}),
            "pool": len(members),
            "strata": dict(sorted(Counter(_stratum_family(c.stratum) for c in members).items())),
            "splits": dict(sorted(Counter(c.split for c in members).items())),
            "documents": len({c.group for c in members}),
            "random_sample": rates([c for c in members if c.stratum == "random"]),
            "population": rates([c for c in population if c.in_article]),
        }
    return stats


def _stratum_family(stratum: str | None) -> str:
    return (stratum or "none").split(":")[0]


def write_pool(result: PoolResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_annotations(out_dir / "pool.jsonl", (c.annotation() for c in result.selected))
    (out_dir / "pool-stats.json").write_text(
        json.dumps(result.stats, indent=2) + "\n", encoding="utf-8"
    )


def append_supplement(
    result: PoolResult, existing: Sequence[dict[str, Any]], out_dir: Path
) -> None:
    """Append a supplement to ``pool.jsonl`` (earlier lines unchanged) and record it in
    ``pool-stats.json`` under ``supplements``."""
    write_annotations(
        out_dir / "pool.jsonl", [*existing, *(c.annotation() for c in result.selected)]
    )
    stats_file = out_dir / "pool-stats.json"
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.is_file() else {}
    stats.setdefault("supplements", []).append(result.stats)
    stats_file.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


def write_batches(
    selected: Iterable[Candidate],
    batches_dir: Path,
    *,
    seed: int,
    batch_size: int = 550,
    first_number: int = 1,
) -> list[Path]:
    """Labelling batches (text included: keep them out of the repository), shuffled across
    source types: ``batch-NN.jsonl`` lines ``{"id", "text", "context"}``, numbered from
    ``first_number`` (a supplement continues after the existing batches)."""
    items = sorted(selected, key=lambda c: c.id)
    random.Random(f"{seed}:batches:{first_number}").shuffle(items)
    count = max(1, round(len(items) / batch_size))
    batches_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for number in range(count):
        members = items[number::count]
        path = batches_dir / f"batch-{number + first_number:02d}.jsonl"
        if first_number > 1 and path.exists():
            raise InputError(f"{path} exists; a supplement never overwrites a batch")
        with open(path, "w", encoding="utf-8") as handle:
            for candidate in members:
                handle.write(
                    json.dumps(
                        {"id": candidate.id, "text": candidate.text, "context": candidate.context},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        paths.append(path)
    return paths
