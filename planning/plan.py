"""One plan: assess the layout as hung, recommend additions, assess the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planning.assess import Assessment, assess
from planning.errors import PlanningError
from planning.floor import Floor, floor_of
from planning.information import Radios, information_of
from planning.mounting import DEFAULT_RULES, candidates
from planning.proposal import proposal_toml
from planning.radio import PlanRadio
from planning.recommend import Step, recommend
from positioning.layout import Layout, load_layout

__all__ = ["MAX_ADD", "Plan", "make_plan"]

#: Most radios one plan adds: past this, plan the store's grid afresh.
MAX_ADD = 50
#: Declared 1 m power of an added beacon when the layout has none, dBm (a typical iBeacon).
DEFAULT_TX_POWER_DBM = -59.0


@dataclass(frozen=True, slots=True)
class Plan:
    layout: Layout
    floor: Floor
    topology: str
    rules: tuple[str, ...]
    before: Assessment
    steps: list[Step]
    proposal: str  # the proposed layout's TOML text

    @property
    def after(self) -> Assessment:
        return self.steps[-1].after if self.steps else self.before


def make_plan(
    store: str | Path,
    add: int,
    *,
    receivers: bool = False,
    rules: tuple[str, ...] = DEFAULT_RULES,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """``progress`` is called with 1 after the baseline, each candidate pricing and each step."""
    if not 0 <= add <= MAX_ADD:
        raise PlanningError(f"--add: must be 0..{MAX_ADD}, got {add}")
    layout = load_layout(store)
    topology = "receivers" if receivers else "phone"
    radio = PlanRadio.for_layout(layout, topology)
    floor = floor_of(layout)
    zones = [z.name for z in layout.zones]
    base = information_of(layout, floor, radio, Radios.of_layout(layout, radio))
    before = assess(base.total(), floor, radio, zones)
    if progress:
        progress(1)
    options = candidates(layout, rules, radio.params.beacon_height_m, layout.beacon_xy)
    tx = float(np.median(layout.tx_power_dbm)) if layout.beacons else DEFAULT_TX_POWER_DBM
    steps = recommend(layout, floor, radio, base, options, add, tx, progress)
    return Plan(
        layout,
        floor,
        topology,
        rules,
        before,
        steps,
        proposal_toml(layout, Path(store), steps, tx, rules),
    )
