"""The claims ledger: quantified forward-looking claims, kept and checked when they fall due.

Stages, each a pure function over DataFrames:

- :func:`extract_claims` (rules, :mod:`.extract`) or :class:`~.llm.LLMExtractor` (an optional
  OpenAI-compatible endpoint) turn scored sentences into claims;
- :func:`check_claims` (:mod:`.check`) compares due claims with point-in-time fundamentals;
- :func:`scorecard` summarises claims per entity.

:mod:`.ledger` runs them over a store: ``extract_store``, ``check_store``, ``claims_scorecard``,
``entity_claims`` and ``claims_in_text`` for a pasted text.
"""

from analyzer.claims.check import CHECK_COLUMNS, STATUSES, check_claims, scorecard
from analyzer.claims.extract import (
    CLAIM_COLUMNS,
    DEFAULT_GROWTH_THRESHOLD,
    EXTRACTOR_VERSION,
    claims_in_text,
    extract_claims,
)
from analyzer.claims.ledger import (
    check_store,
    claim_records,
    claim_series,
    claims_frame,
    claims_scorecard,
    entity_claims,
    extract_store,
)

__all__ = [
    "CHECK_COLUMNS",
    "CLAIM_COLUMNS",
    "DEFAULT_GROWTH_THRESHOLD",
    "EXTRACTOR_VERSION",
    "STATUSES",
    "check_claims",
    "check_store",
    "claim_records",
    "claim_series",
    "claims_frame",
    "claims_in_text",
    "claims_scorecard",
    "entity_claims",
    "extract_claims",
    "extract_store",
    "scorecard",
]
