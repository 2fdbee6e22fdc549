"""The zone table: visitors, share of store visits, zone visits, dwell median and p90, dwells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.privacy import suppressed_mask
from positioning.layout import Layout

ZONE_COLUMNS = (
    "zone",
    "visitors",
    "zone_visits",
    "share_of_visits",
    "dwells",
    "dwell_median_s",
    "dwell_p90_s",
)


def visit_index(intervals: pd.DataFrame, visits: pd.DataFrame) -> np.ndarray:
    """For each interval, the row of ``visits`` (same device, started at or before it), or -1."""
    if intervals.empty or visits.empty:
        return np.full(len(intervals), -1, dtype=np.int64)
    left = pd.DataFrame(
        {
            "t": intervals["start_s"].to_numpy(),
            "dev": intervals["device_id"].astype(str).to_numpy(),
            "row": np.arange(len(intervals)),
        }
    ).sort_values("t", kind="stable")
    right = pd.DataFrame(
        {
            "t": visits["start_s"].to_numpy(),
            "dev": visits["device_id"].astype(str).to_numpy(),
            "visit": np.arange(len(visits)),
            "end": visits["end_s"].to_numpy(),
        }
    ).sort_values("t", kind="stable")
    # A zone visit may start a little before the store enter is confirmed: allow 60 s slack.
    joined = pd.merge_asof(left, right, on="t", by="dev", direction="backward", tolerance=None)
    fwd = pd.merge_asof(left, right, on="t", by="dev", direction="forward", tolerance=60.0)
    visit = joined["visit"].where(joined["t"] <= joined["end"] + 60.0)
    visit = visit.fillna(fwd["visit"])
    out = np.full(len(intervals), -1, dtype=np.int64)
    out[joined["row"].to_numpy()] = visit.fillna(-1).to_numpy(dtype=np.int64)
    return out


def zone_table(
    layout: Layout,
    zone_visits: pd.DataFrame,
    dwells: pd.DataFrame,
    visits: pd.DataFrame,
    k: int = 1,
) -> pd.DataFrame:
    """One row per layout zone, in layout order. Rows from 1..k-1 visitors are blanked (NaN)
    and flagged in the ``suppressed`` column."""
    names = [z.name for z in layout.zones]
    zv = zone_visits[zone_visits["zone"].isin(names)]
    visitors = zv.groupby("zone")["device_id"].nunique()
    counts = zv.groupby("zone").size()
    n_visits = len(visits)
    vi = visit_index(zv, visits)
    in_visit = pd.DataFrame({"zone": zv["zone"].to_numpy(), "visit": vi})
    in_visit = in_visit[in_visit["visit"] >= 0].drop_duplicates()
    share = in_visit.groupby("zone").size() / n_visits if n_visits else pd.Series(dtype=float)
    dw = dwells[dwells["zone"].isin(names)].groupby("zone")["duration_s"]
    table = pd.DataFrame(index=pd.Index(names, name="zone"))
    table["visitors"] = visitors.reindex(names).fillna(0).astype(np.int64)
    table["zone_visits"] = counts.reindex(names).fillna(0).astype(np.int64)
    table["share_of_visits"] = share.reindex(names).fillna(0.0).astype(np.float64)
    table["dwells"] = dw.size().reindex(names).fillna(0).astype(np.int64)
    table["dwell_median_s"] = dw.median().reindex(names).astype(np.float64)
    table["dwell_p90_s"] = dw.quantile(0.9).reindex(names).astype(np.float64)
    hidden = suppressed_mask(table["visitors"].to_numpy(), k)
    table["suppressed"] = hidden
    figures = [c for c in ZONE_COLUMNS if c != "zone"]
    table[figures] = table[figures].astype(np.float64)
    table.loc[hidden, figures] = np.nan
    return table.reset_index()
