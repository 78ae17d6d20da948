"""Shared fixtures: the reference data of tests/data, a fresh store per test."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data"  # slices of shared/reference (see its README)


@pytest.fixture
def reference() -> Path:
    if not REFERENCE.exists():
        pytest.fail(f"reference data missing at {REFERENCE}")
    return REFERENCE


@pytest.fixture
def store(tmp_path):
    from engine.store import Store

    s = Store(tmp_path / "byrote.db")
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_default_database(tmp_path, monkeypatch):
    """No test may touch the user's default database: point $BYROTE_DB into tmp."""
    monkeypatch.setenv("BYROTE_DB", str(tmp_path / "default-byrote.db"))
