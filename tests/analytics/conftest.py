"""Fixtures of the analytics tests: the fashion store and a synthetic run."""

from __future__ import annotations

import pytest
from analytics_synth import FASHION, synthetic_run_of

from analytics.run import RunData
from positioning.layout import Layout, load_layout


@pytest.fixture
def fashion() -> Layout:
    return load_layout(FASHION)


@pytest.fixture
def synthetic_run(fashion: Layout) -> RunData:
    return synthetic_run_of(fashion, n=40, seed=7)
