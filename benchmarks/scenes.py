"""Recorded scenes: a folder in the data contract with its ground truth, and how a run is scored.

A scene folder holds ``store.toml``, ``observations.csv`` (t, device_id, beacon_id, rssi),
``truth.csv`` (t, device_id, x, y), ``visits.csv`` (device_id, t_enter, t_exit) and a README
(examples/recordings/README.md). The real recordings are folders in examples/recordings;
the scripted scenes of :mod:`benchmarks.scripted` are written in the same form.

:func:`score` is the position part of ``shared/tools/score.py`` (the tool new users score
with), computed from the engine's output in memory; tests/benchmarks/test_scenes.py checks
that both give the same figures on the same run:

- the truth at one row per whole second within each device's visit, and the latest
  estimate at or before it, not older than 2 s (``coverage_2s``: the share that had one);
- ``median_m``/``p90_m`` of the error; ``within_1sigma``/``within_2sigma``: the share of
  errors within ``sigma_m`` (the radial RMS, sqrt(var_x + var_y)) and twice it;
- ``zone_accuracy``: the zone (first polygon in file order, "" for none) of the estimate
  equals the zone of the truth, over all scored seconds, when the layout has zones;
- ``enter_latency_s``: ``detected_at`` of the first store.enter in [t_enter - 10, t_enter + 60]
  minus t_enter, median over devices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from beacons.observation import ObservationBatch
from positioning.events import PresenceEvent
from positioning.layout import Layout, load_layout
from positioning.positions import PositionRows
from sim.obslog import read_observation_log

__all__ = [
    "RECORDINGS",
    "RELIABILITY_BINS",
    "Scene",
    "load_scene",
    "reliability",
    "score",
    "zone_names_at",
]

RECORDINGS = Path(__file__).resolve().parent.parent / "examples" / "recordings"
#: An estimate older than this at a truth second does not count (score.py's rule).
MAX_AGE_S = 2.0
#: A store.enter this far before or after the true arrival matches it (score.py's rule), s.
ENTER_WINDOW_S = (10.0, 60.0)


@dataclass(frozen=True, slots=True)
class Scene:
    """A scene loaded: layout, observations in time order, truth samples and visits."""

    name: str
    store: Path
    layout: Layout
    batch: ObservationBatch
    truth: pd.DataFrame  # t, device_id, x, y
    visits: pd.DataFrame  # device_id, t_enter, t_exit


def load_scene(directory: Path, name: str | None = None) -> Scene:
    store = directory / "store.toml"
    layout = load_layout(store)
    log = read_observation_log(directory / "observations.csv", beacon_ids=layout.beacon_ids)
    truth = pd.read_csv(directory / "truth.csv", dtype={"device_id": str})
    visits = pd.read_csv(directory / "visits.csv", dtype={"device_id": str})
    return Scene(name or directory.name, store, layout, log.batch.sorted_by_time(), truth, visits)


def zone_names_at(layout: Layout, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """The zone of each point, the first in file order that holds it, "" for none."""
    pts = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    out = np.full(len(pts), "", dtype=object)
    for zone in layout.zones:
        hit = zone.contains(pts) & (out == "")
        out[hit] = zone.name
    return out.astype(str)


def score(
    scene: Scene, positions: PositionRows, events: tuple[PresenceEvent, ...] | list[PresenceEvent]
) -> dict[str, Any]:
    """The run's figures against the scene's truth (module docstring); NaN where undefined."""
    errs: list[npt.NDArray[np.float64]] = []
    sigs: list[npt.NDArray[np.float64]] = []
    zone_ok = zone_n = covered = cov_n = 0
    has_zones = bool(scene.layout.zones)
    enter_lat: list[float] = []
    for device, tr in scene.truth.groupby("device_id", sort=True):
        v = scene.visits[scene.visits.device_id == device]
        if v.empty:
            continue
        t_in, t_out = float(v.t_enter.iloc[0]), float(v.t_exit.iloc[0])
        trs = tr[(tr.t >= t_in) & (tr.t <= t_out)].sort_values("t", kind="stable")
        keep = np.r_[True, np.diff(np.floor(trs.t.to_numpy())) > 0]
        trs = trs[keep]
        if trs.empty:
            continue
        ts, tx, ty = trs.t.to_numpy(), trs.x.to_numpy(), trs.y.to_numpy()
        cov_n += len(ts)
        if has_zones:
            zone_n += len(ts)
        mine = positions.device_id == device
        order = np.argsort(positions.t_s[mine], kind="stable")
        et = positions.t_s[mine][order]
        if len(et):
            k = np.searchsorted(et, ts + 1e-6, side="right") - 1
            kk = np.clip(k, 0, None)
            have = (k >= 0) & (ts - et[kk] <= MAX_AGE_S)
            ex, ey = positions.x_m[mine][order][kk], positions.y_m[mine][order][kk]
            errs.append(np.hypot(ex - tx, ey - ty)[have])
            sigs.append(positions.sigma_m[mine][order][kk][have])
            covered += int(have.sum())
            if has_zones:
                same = zone_names_at(scene.layout, ex, ey) == zone_names_at(scene.layout, tx, ty)
                zone_ok += int(np.sum(have & same))
        lo, hi = t_in - ENTER_WINDOW_S[0], t_in + ENTER_WINDOW_S[1]
        enters = sorted(
            (e.time_s, e.detected_at_s)
            for e in events
            if e.device_id == device and e.type.endswith("store.enter") and lo <= e.time_s <= hi
        )
        if enters:
            enter_lat.append(enters[0][1] - t_in)
    e = np.concatenate(errs) if errs else np.empty(0)
    s = np.concatenate(sigs) if sigs else np.empty(0)
    ok = np.isfinite(s)
    nan = math.nan
    return {
        "n": int(e.size),
        "median_m": float(np.median(e)) if e.size else nan,
        "p90_m": float(np.percentile(e, 90)) if e.size else nan,
        "mean_m": float(e.mean()) if e.size else nan,
        "within_1sigma": float(np.mean(e[ok] <= s[ok])) if ok.any() else nan,
        "within_2sigma": float(np.mean(e[ok] <= 2 * s[ok])) if ok.any() else nan,
        "sigma_median_m": float(np.median(s[ok])) if ok.any() else nan,
        "zone_accuracy": zone_ok / zone_n if zone_n else nan,
        "coverage_2s": covered / cov_n if cov_n else nan,
        "enter_latency_s": float(np.median(enter_lat)) if enter_lat else nan,
    }


#: Bins of predicted probability in the reliability table.
RELIABILITY_BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


def reliability(
    layout: Layout,
    truth: pd.DataFrame,
    t_s: npt.NDArray[np.float64],
    device_id: npt.NDArray[np.str_],
    xy_m: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    kind: str,
) -> list[tuple[float, float, float, int]]:
    """Predicted probability against observed frequency, per bin of RELIABILITY_BINS:
    (low, mean predicted, observed, n). ``kind`` "zone": the event is "the device is in the
    zone of its fix (or in none when the fix is in none)"; "inside": "the device is inside
    the outline". ``truth`` (t, device_id, x, y) is interpolated at each fix's time within
    the device's span."""
    truth_xy = np.full((len(t_s), 2), np.nan)
    for device, tr in truth.groupby("device_id"):
        mine = device_id == device
        tr = tr.sort_values("t")
        t = t_s[mine]
        ok = (t >= tr.t.iloc[0]) & (t <= tr.t.iloc[-1])
        xs = np.where(ok, np.interp(t, tr.t, tr.x), np.nan)
        ys = np.where(ok, np.interp(t, tr.t, tr.y), np.nan)
        truth_xy[mine] = np.column_stack([xs, ys])
    have = np.isfinite(truth_xy[:, 0]) & np.isfinite(p)
    if kind == "zone":
        hit = zone_names_at(layout, *xy_m[have].T) == zone_names_at(layout, *truth_xy[have].T)
    else:
        hit = layout.contains(truth_xy[have])
    pp = p[have]
    rows = []
    edges = RELIABILITY_BINS
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2
        sel = (pp >= lo) & ((pp <= hi) if last else (pp < hi))
        if sel.any():
            rows.append((lo, float(pp[sel].mean()), float(hit[sel].mean()), int(sel.sum())))
    return rows
