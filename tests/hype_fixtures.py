"""A tiny labelled set and a tiny trained hype model, shared by the classifier tests.

The model is a real head over the real packaged encoder, trained once per test session on the
sentences below (written for these tests, deliberately unambiguous).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

HYPE = [
    "This revolutionary platform will change everything forever!",
    "The most powerful chip ever built is absolutely unstoppable!",
    "Don't miss this game-changing token, it is going to the moon! 🚀",
    "An insane, massive breakthrough that crushes every competitor!",
    "The future of finance is here and nothing can stop it!",
    "Our incredible AI is the greatest innovation in human history!",
    "This is the most disruptive, mind-blowing product of the decade!",
    "Get in now, this unbelievable coin will make everyone rich!",
    "A truly magical, world-changing experience unlike anything before!",
    "The ultimate revolution in computing has finally arrived!",
]
GROWTH = [
    "We expect revenue to double next year as demand keeps rising.",
    "Analysts forecast the market will grow 20% a year through 2030.",
    "The company plans to open three new factories by 2028.",
    "Demand for accelerators should keep growing over the next decade.",
    "Management projects subscriber numbers to expand further next quarter.",
    "The addressable market could reach one trillion dollars by 2030.",
    "We anticipate strong growth in cloud demand over the coming years.",
    "The network is expected to add millions of new users next year.",
    "Shipments are projected to rise sharply in 2026.",
    "The firm aims to triple its capacity within five years.",
]
EVIDENCE = [
    "Revenue was $35.1 billion in the third quarter, up 94% year over year.",
    "Net income fell to $2.3 billion in the fiscal year ended June 30.",
    "The company reported 4.2 million active users as of December 31, 2023.",
    "According to the 10-K filing, operating expenses were $812 million.",
    "Total value locked fell to $2.3 billion on Friday, data showed.",
    "The SEC approved the listing on Monday, according to a filing.",
    "Quarterly sales rose 12% to $18.1 billion, the company said.",
    "The firm filed for Chapter 11 protection in Delaware on March 3.",
    "Gross margin was 74.6% in the quarter, compared with 71.2% a year earlier.",
    "The Energy Information Administration reported output of 13.2 million barrels a day.",
]
NEUTRAL = [
    "The meeting took place in a conference room downstairs.",
    "The report describes the structure of the organisation.",
    "Employees discussed the schedule for the next review.",
    "The office is located near the train station.",
    "The document outlines several terms used in the agreement.",
    "A spokesperson declined to comment on the matter.",
    "The committee will meet again to discuss the proposal.",
    "The website lists the contact details of the support team.",
    "The article summarises a panel discussion about regulation.",
    "Staff were reminded to update their passwords.",
]


def _row(text: str, hype: int = 0, growth: int = 0, evidence: int = 0) -> dict[str, Any]:
    return {
        "text": text,
        "hype": hype,
        "growth": growth,
        "evidence": evidence,
        "lang": "en",
        "source": "test",
    }


def labelled_rows() -> list[dict[str, Any]]:
    """60 labelled sentences: ten of each kind, plus twenty mixed ones."""
    rows = [_row(t, hype=1) for t in HYPE]
    rows += [_row(t, growth=1) for t in GROWTH]
    rows += [_row(t, evidence=1) for t in EVIDENCE]
    rows += [_row(t) for t in NEUTRAL]
    for hype, growth in zip(HYPE[:5], GROWTH[:5]):
        rows.append(
            _row(f"{hype.rstrip('!')} and {growth[0].lower()}{growth[1:]}", hype=1, growth=1)
        )
    for growth, evidence in zip(GROWTH[5:], EVIDENCE[:5]):
        rows.append(
            _row(f"{evidence.rstrip('.')}; {growth[0].lower()}{growth[1:]}", growth=1, evidence=1)
        )
    for hype, evidence in zip(HYPE[5:], EVIDENCE[5:]):
        rows.append(
            _row(f"{evidence.rstrip('.')}, an incredible record! {hype}", hype=1, evidence=1)
        )
    rows += [
        _row(t)
        for t in (
            "The board reviewed the minutes of the previous session.",
            "Visitors must sign in at the front desk.",
            "The appendix contains a glossary of terms.",
            "The team moved to a different floor of the building.",
            "The handbook explains how requests are submitted.",
        )
    ]
    return rows


def split_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every fourth sentence goes to validation."""
    rows = labelled_rows()
    return [r for i, r in enumerate(rows) if i % 4], [r for i, r in enumerate(rows) if not i % 4]


@functools.cache
def _trained_model_dir(directory: str) -> Path:
    from analyzer.training.train import TrainingOptions, train_scorer

    train, validation = split_rows()
    scorer = train_scorer(
        train, validation, TrainingOptions(method="head", epochs=60, seed=3, device="cpu")
    )
    return scorer.save_pretrained(Path(directory) / "tiny-hype")


def tiny_model_dir_for(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's directory, trained on first use and shared by the whole session."""
    return _trained_model_dir(str(tmp_path_factory.getbasetemp() / "hype-model"))


@functools.cache
def _loaded(directory: str) -> Any:
    from analyzer.scoring.scorer import HypeScorer

    return HypeScorer.from_pretrained(directory, device="cpu")


def loaded_scorer(directory: Path) -> Any:
    """The tiny model loaded once per session (treat it as read-only)."""
    return _loaded(str(directory))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of a tiny head model trained on :func:`labelled_rows` (trained once per session)."""
    return tiny_model_dir_for(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_scorer(tiny_model_dir: Path) -> Any:
    """The tiny model, loaded once (treat as read-only)."""
    return loaded_scorer(tiny_model_dir)
