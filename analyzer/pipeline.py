"""Wires the stages together: ingest into the store, score stored documents, tag entities,
load fundamentals, compute heat and divergence. The CLI and the app call these functions.

Stages stay independent of one another (storage knows nothing of models, scoring nothing of
storage); only this module joins them.
"""

from __future__ import annotations
