"""Shared fixtures: paths to the reference stores."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STORES = REPO / "examples" / "stores"


@pytest.fixture
def fashion_path() -> Path:
    return STORES / "fashion.toml"


@pytest.fixture
def showroom_path() -> Path:
    return STORES / "showroom.toml"
