"""k-anonymity for shared exports: a figure built from fewer than k distinct visitors is
suppressed (shown as "suppressed", never as a number), and the page says so.

A heatmap cell seen by 1..k-1 devices, a zone row with 1..k-1 visitors, a flow between two
zones taken by 1..k-1 devices: each could single out a person, so each is withheld. Cells
nobody visited are not suppressed: zero says nothing about anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.errors import AnalyticsError

#: Default k: the smallest group a figure may describe. 5 is the threshold commonly used
#: for published aggregate statistics (e.g. UK ONS and Eurostat small-cell rules use 3-10).
DEFAULT_K = 5
SUPPRESSED = "suppressed"


@dataclass(frozen=True, slots=True)
class PrivacyNote:
    """What was withheld, for the page and the JSON."""

    k: int
    heatmap_cells: int = 0
    zone_rows: int = 0
    flow_cells: int = 0

    def sentence(self) -> str:
        if self.k <= 1:
            return "k-anonymity is off (k = 1): every figure is shown, however few visitors it describes."
        return (
            f"Figures built from fewer than k = {self.k} distinct visitors are suppressed: "
            f"{self.heatmap_cells} heatmap cells (grey), {self.zone_rows} zone rows and "
            f"{self.flow_cells} zone-to-zone flows."
        )


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise AnalyticsError(f"--k: k must be a whole number >= 1, got {k!r}")
    return k


def suppressed_mask(distinct: npt.ArrayLike, k: int) -> npt.NDArray[np.bool_]:
    """True where a figure rests on 1..k-1 distinct visitors."""
    d = np.asarray(distinct)
    return np.asarray((d > 0) & (d < check_k(k)))


def suppress_values(
    values: npt.ArrayLike, distinct: npt.ArrayLike, k: int
) -> npt.NDArray[np.float64]:
    """Values as float with NaN where suppressed."""
    out = np.array(values, dtype=np.float64)
    out[suppressed_mask(distinct, k)] = np.nan
    return out
