"""Shared fixtures: the vectors file every language's tests read."""

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "core" / "testdata"


@pytest.fixture(scope="session")
def vectors() -> Any:
    """core/testdata/vectors.json, parsed."""
    with open(TESTDATA / "vectors.json", encoding="utf-8") as f:
        return json.load(f)
