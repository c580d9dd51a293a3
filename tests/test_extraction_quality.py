"""Article extraction against readability's expected output on 130 real pages.

Scores are token-level F1 between our extracted text and the text of ``expected.html``
(bag of lowercased word tokens; Chinese, Japanese and Korean counted per character, since
those scripts do not separate words). The measured mean and median are written to
``benchmarks/results/extraction.json`` for the README.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from pathlib import Path

import lxml.html
import pytest

from analyzer.ingest import ContentError, extract_article

pytestmark = pytest.mark.shared

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "extraction.json"
# Measured 0.94 mean / 0.99 median; the floor leaves room for library updates, not regressions.
MEAN_F1_FLOOR = 0.88
MEDIAN_F1_FLOOR = 0.95

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def token_f1(predicted: str, expected: str) -> float:
    got, want = tokens(predicted), tokens(expected)
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(got.values())
    recall = overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def test_token_f1_is_a_real_measure() -> None:
    assert token_f1("the cat sat", "the cat sat") == 1.0
    assert token_f1("dog", "the cat sat") == 0.0
    assert 0.0 < token_f1("the cat", "the cat sat on the mat") < 1.0
    assert token_f1("机器学习", "机器") == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_extraction_f1_on_readability_pages(realdata: Path) -> None:
    pages = sorted(
        (realdata / "articles" / "mozilla-readability" / "test" / "test-pages").iterdir()
    )
    pages = [p for p in pages if (p / "source.html").is_file() and (p / "expected.html").is_file()]
    assert len(pages) == 130
    scores: dict[str, float] = {}
    for page in pages:
        expected = lxml.html.fromstring((page / "expected.html").read_text("utf-8")).text_content()
        try:
            extracted = extract_article(
                (page / "source.html").read_bytes(), url="http://fakehost/test/page.html"
            ).text
        except ContentError:
            extracted = ""
        scores[page.name] = token_f1(extracted, expected)
    mean = statistics.fmean(scores.values())
    median = statistics.median(scores.values())
    worst = sorted(scores.items(), key=lambda item: item[1])[:5]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "article extraction vs mozilla/readability expected output",
                "pages": len(scores),
                "metric": "token F1 (lowercased words; CJK per character)",
                "mean_f1": round(mean, 4),
                "median_f1": round(median, 4),
                "pages_below_0_5": sum(1 for s in scores.values() if s < 0.5),
                "worst": [{"page": name, "f1": round(score, 4)} for name, score in worst],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    assert mean > MEAN_F1_FLOOR, worst
    assert median > MEDIAN_F1_FLOOR
