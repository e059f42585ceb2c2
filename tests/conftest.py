"""Shared test fixtures: paths to the read-only reference data in ../shared (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run: a CI failure is reproducible, never flaky.
settings.register_profile("amoc", derandomize=True, deadline=None)
settings.load_profile("amoc")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ../shared/data (real-frame minis, MARS info files, PRID splits); skip if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (only present in the dev/CI checkout)")
    return SHARED_DATA
