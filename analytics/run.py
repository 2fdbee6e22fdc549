"""One run's frames, whatever the source: :class:`RunData`, and the run without staff.

Its own module so the loaders (``analytics.inputs`` for run folders, ``analytics.archive``
for the live archive) and the report depend on it without depending on each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from positioning.layout import Layout

__all__ = ["RunData", "without_staff"]


@dataclass(frozen=True, slots=True)
class RunData:
    """One run's frames, whatever the source."""

    kind: str  # "simulation" | "locate" | "archive"
    source: str
    store: str
    layout: Layout
    positions: pd.DataFrame
    visits: pd.DataFrame
    zone_visits: pd.DataFrame
    dwells: pd.DataFrame
    #: device_id -> role ("visitor", "passerby", "staff"); every device in positions or visits
    roles: pd.Series
    notes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


def without_staff(run: RunData) -> RunData:
    """The run without staff devices: shop analytics describe customers, and staff at their
    posts all day would dominate every heatmap and zone figure. Roles keep them (counted)."""
    staff = run.roles.index[run.roles == "staff"]
    if len(staff) == 0:
        return run
    cats = run.positions["device_id"].cat.categories
    codes = run.positions["device_id"].cat.codes.to_numpy()
    keep = ~np.isin(codes, cats.get_indexer(staff))

    def drop(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~frame["device_id"].astype(str).isin(staff)].reset_index(drop=True)

    return dataclasses.replace(
        run,
        positions=run.positions[keep].reset_index(drop=True),
        visits=drop(run.visits),
        zone_visits=drop(run.zone_visits),
        dwells=drop(run.dwells),
        notes=(*run.notes, f"{len(staff)} staff devices left out of every figure"),
    )
