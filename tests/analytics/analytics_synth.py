"""Synthetic positions, runs and locate directories with known answers (seeded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.columns import roles_of
from analytics.intervals import make_intervals, zone_runs
from analytics.run import RunData
from positioning.events import (
    DWELL_END,
    DWELL_START,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_ENTER,
    ZONE_EXIT,
    PresenceEvent,
)
from positioning.layout import Layout

REPO = Path(__file__).resolve().parents[2]
FASHION = REPO / "examples" / "stores" / "fashion.toml"
T0 = 1_795_000_000.0  # 2026-11-18, a fixed epoch so hour bins are stable


def positions(
    t: np.ndarray, dev: list[str] | np.ndarray, x: np.ndarray, y: np.ndarray
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "t_s": np.asarray(t, dtype=np.float64),
            "device_id": pd.Categorical(np.asarray(dev, dtype=object)),
            "x_m": np.asarray(x, dtype=np.float64),
            "y_m": np.asarray(y, dtype=np.float64),
        }
    )
    return frame.sort_values("t_s", kind="stable").reset_index(drop=True)


def walkers(layout: Layout, n: int, seed: int) -> pd.DataFrame:
    """n devices wandering the store at 1 Hz for 5-25 minutes each, smooth random walks."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        steps = int(rng.integers(300, 1500))
        start = T0 + rng.uniform(0, 4 * 3600)
        xy = np.cumsum(rng.normal(0, 0.35, (steps, 2)), axis=0) + rng.uniform([3, 3], [27, 17])
        xy = np.abs(xy)
        xy[:, 0] = layout.width_m - np.abs(layout.width_m - xy[:, 0] % (2 * layout.width_m))
        xy[:, 1] = layout.height_m - np.abs(layout.height_m - xy[:, 1] % (2 * layout.height_m))
        parts.append(positions(start + np.arange(steps), [f"d{i:03d}"] * steps, xy[:, 0], xy[:, 1]))
    return positions(*(pd.concat(parts)[c].to_numpy() for c in ("t_s", "device_id", "x_m", "y_m")))


def synthetic_run_of(fashion: Layout, n: int, seed: int) -> RunData:
    """n wandering visitors with visits, zone visits and dwells from their tracks, and a passer-by."""
    pos = walkers(fashion, n, seed)
    g = pos.groupby("device_id", observed=True)["t_s"]
    visits = make_intervals(
        g.min().index.astype(str), [""] * g.ngroups, g.min().to_numpy(), g.max().to_numpy()
    )
    zv = zone_runs(pos, fashion, 10.0)
    dwells = zv[zv["duration_s"] >= 30.0].reset_index(drop=True)
    outside = positions(
        T0 + np.arange(20.0), ["p001"] * 20, np.linspace(10, 20, 20), np.full(20, -2.0)
    )
    allpos = positions(
        *(pd.concat([pos, outside])[c].to_numpy() for c in ("t_s", "device_id", "x_m", "y_m"))
    )
    devices = pd.Index(sorted(set(allpos["device_id"].astype(str))))
    return RunData(
        kind="simulation",
        source="<synthetic>",
        store=fashion.name,
        layout=fashion,
        positions=allpos,
        visits=visits,
        zone_visits=zv,
        dwells=dwells,
        roles=roles_of(devices, set(visits["device_id"].astype(str))),
    )


def scripted_events(store: str) -> list[PresenceEvent]:
    """One visit of device a: entrance -> womens (dwell 120 s) -> shoes, 10 minutes in all."""

    def ev(kind: str, t: float, zone: str | None = None, dur: float | None = None) -> PresenceEvent:
        return PresenceEvent(kind, store, "a", T0 + t, T0 + t + 2, 5.0, 5.0, zone, dur)

    return [
        ev(STORE_ENTER, 0),
        ev(ZONE_ENTER, 0, "entrance"),
        ev(ZONE_EXIT, 30, "entrance", 30),
        ev(ZONE_ENTER, 35, "womens"),
        ev(DWELL_START, 60, "womens"),
        ev(DWELL_END, 180, "womens", 120),
        ev(ZONE_EXIT, 200, "womens", 165),
        ev(ZONE_ENTER, 210, "shoes"),
        ev(ZONE_EXIT, 590, "shoes", 380),
        ev(STORE_EXIT, 600, None, 600),
    ]


def write_locate_dir(
    path: Path, pos: pd.DataFrame, events: list[PresenceEvent], extra_lines: tuple[str, ...] = ()
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    out = pos.rename(columns={"t_s": "t", "x_m": "x", "y_m": "y"})
    out.to_csv(path / "positions.csv", index=False)
    lines = [json.dumps(e.to_cloudevent()) for e in events] + list(extra_lines)
    (path / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
