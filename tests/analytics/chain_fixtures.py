"""A small synthetic chain archive shared by the chain tests (seeded, written once per session)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from analytics.synthetic import ChainParams, ChainTruth, write_chain
from positioning.layout import load_layout

REPO = Path(__file__).resolve().parents[2]
FASHION = REPO / "examples" / "stores" / "fashion.toml"

#: Two stores, two weeks, short visits: half a million positions, written in a second or two.
SMALL = ChainParams(
    stores=2,
    first_day=dt.date(2026, 11, 2),
    days=14,
    visits_per_day=60.0,
    median_visit_s=300.0,
    max_visit_s=1800,
    regulars=30,
    seed=11,
)
#: Smaller still, for the engines' agreement (Spark's start-up dominates anyway).
TINY = ChainParams(
    stores=2,
    first_day=dt.date(2026, 11, 6),
    days=3,
    visits_per_day=25.0,
    median_visit_s=200.0,
    seed=5,
)


def write(root: Path, params: ChainParams) -> ChainTruth:
    return write_chain(root, load_layout(FASHION), params)
