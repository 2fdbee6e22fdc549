"""Accuracy of positions and presence events against ground truth.

Pure numpy: callers load the simulator's truth and a locate run into the arrays
below. Definitions (docs/presence-detection.md explains each):

- position error: distance from each fix to the true position interpolated at the
  fix's time (fixes outside a device's truth span are not scored);
- zone accuracy: share of in-store fixes whose committed zone equals the zone of
  the true position ("" outside every zone);
- zone visits: the simulator's (maximal runs of 5 Hz truth samples in one zone);
- interval matching (dwells, store visits): one-to-one, greedy by the largest time
  overlap, same device; a match needs a positive overlap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.crb import position_crb_m
from positioning.layout import Layout

__all__ = [
    "CRB_MAX_POINTS",
    "CrbRadio",
    "Detected",
    "EXIT_MATCH_TOLERANCE_S",
    "Intervals",
    "Truth",
    "crb_ratio",
    "error_summary",
    "evaluate",
    "interpolate_truth",
    "latency_summary",
    "match_intervals",
    "precision_recall",
    "visit_metrics",
]


FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class Intervals:
    """Per-device time intervals, arrays (N,); ``end_s`` may be NaN (still open)."""

    device_id: StrArray
    start_s: FloatArray
    end_s: FloatArray

    def __len__(self) -> int:
        return len(self.device_id)

    @classmethod
    def of(
        cls, device_id: Sequence[str], start_s: Sequence[float], end_s: Sequence[float]
    ) -> Intervals:
        return cls(
            np.asarray(device_id, dtype=str).reshape(-1),
            np.asarray(start_s, dtype=np.float64).reshape(-1),
            np.asarray(end_s, dtype=np.float64).reshape(-1),
        )


def interpolate_truth(
    t_s: FloatArray,
    device_id: StrArray,
    truth_t_s: FloatArray,
    truth_device: StrArray,
    truth_xy: FloatArray,
    max_gap_s: float = math.inf,
) -> FloatArray:
    """(N, 2) true position of each (t, device), NaN outside that device's truth span and
    where the truth samples either side of t are more than ``max_gap_s`` apart."""
    out = np.full((len(t_s), 2), np.nan)
    order = np.lexsort((truth_t_s, truth_device))
    td, tt, txy = truth_device[order], truth_t_s[order], truth_xy[order]
    devices, starts = np.unique(td, return_index=True)
    ends = np.append(starts[1:], len(td))
    lookup = {str(d): (int(a), int(b)) for d, a, b in zip(devices, starts, ends, strict=True)}
    for device in np.unique(device_id):
        if str(device) not in lookup:
            continue
        a, b = lookup[str(device)]
        rows = np.flatnonzero(device_id == device)
        t = t_s[rows]
        inside = (t >= tt[a]) & (t <= tt[b - 1])
        if math.isfinite(max_gap_s) and b - a > 1:
            hi = np.clip(np.searchsorted(tt[a:b], t, side="left"), 1, b - a - 1)
            inside &= tt[a:b][hi] - tt[a:b][hi - 1] <= max_gap_s
        rows, t = rows[inside], t[inside]
        out[rows, 0] = np.interp(t, tt[a:b], txy[a:b, 0])
        out[rows, 1] = np.interp(t, tt[a:b], txy[a:b, 1])
    return out


def error_summary(errors_m: FloatArray) -> dict[str, float | int]:
    """Median, p90, p95 and mean of the finite errors, and how many were scored."""
    e = errors_m[np.isfinite(errors_m)]
    if len(e) == 0:
        return {"n": 0, "median_m": float("nan"), "p90_m": float("nan"), "mean_m": float("nan")}
    return {
        "n": int(len(e)),
        "median_m": float(np.median(e)),
        "p90_m": float(np.percentile(e, 90)),
        "p95_m": float(np.percentile(e, 95)),
        "mean_m": float(e.mean()),
    }


def match_intervals(truth: Intervals, found: Intervals) -> npt.NDArray[np.int64]:
    """For each truth interval, the index of its matched found interval or -1.

    Open ends (NaN) count as +inf. Greedy one-to-one by the largest overlap.
    """
    match = np.full(len(truth), -1, dtype=np.int64)
    t_end = np.where(np.isnan(truth.end_s), np.inf, truth.end_s)
    f_end = np.where(np.isnan(found.end_s), np.inf, found.end_s)
    pairs: list[tuple[float, int, int]] = []
    for device in np.unique(truth.device_id):
        ti = np.flatnonzero(truth.device_id == device)
        fi = np.flatnonzero(found.device_id == device)
        if len(fi) == 0:
            continue
        lo = np.maximum(truth.start_s[ti][:, None], found.start_s[fi][None, :])
        hi = np.minimum(t_end[ti][:, None], f_end[fi][None, :])
        overlap = hi - lo
        for a, b in zip(*np.nonzero(overlap > 0), strict=True):
            pairs.append((float(overlap[a, b]), int(ti[a]), int(fi[b])))
    used: set[int] = set()
    for _, t, f in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if match[t] < 0 and f not in used:
            match[t] = f
            used.add(f)
    return match


def precision_recall(truth: Intervals, found: Intervals) -> dict[str, float | int]:
    match = match_intervals(truth, found)
    hits = int((match >= 0).sum())
    precision = hits / len(found) if len(found) else float("nan")
    recall = hits / len(truth) if len(truth) else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "truth": len(truth),
        "found": len(found),
        "matched": hits,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def latency_summary(latency_s: Sequence[float]) -> dict[str, float | int]:
    lat = np.asarray(latency_s, dtype=np.float64)
    lat = lat[np.isfinite(lat)]
    if len(lat) == 0:
        return {"n": 0, "median_s": float("nan"), "p90_s": float("nan")}
    return {
        "n": int(len(lat)),
        "median_s": float(np.median(lat)),
        "p90_s": float(np.percentile(lat, 90)),
        "max_s": float(lat.max()),
    }


#: A detected exit within this of the true exit counts as found, seconds: twice the
#: exit-latency target (30 s), so a slow but right exit still counts and is seen in
#: the latency, while a visit closed only at the end of the data does not.
EXIT_MATCH_TOLERANCE_S = 60.0


@dataclass(frozen=True, slots=True)
class Truth:
    """Ground truth of a simulation (sim/truth.py definitions), arrays per table.

    ``samples_*``: the trajectories (t, device, xy); ``visit_*``: store visits with
    ``kind`` shopper/passerby/staff and NaN where a time is outside the window;
    ``zone_visits`` and ``dwells``: intervals; only devices visible to the radio.
    """

    samples_t_s: FloatArray
    samples_device: StrArray
    samples_xy_m: FloatArray
    visits: Intervals
    visit_kind: StrArray
    zone_visits: Intervals
    dwells: Intervals
    dwell_zone: StrArray


@dataclass(frozen=True, slots=True)
class Detected:
    """A locate run: position rows and presence intervals rebuilt from its events."""

    t_s: FloatArray
    device_id: StrArray
    xy_m: FloatArray
    zone: StrArray
    visits: Intervals  # end NaN when the visit has no exit event
    visit_enter_detected_s: FloatArray
    visit_exit_detected_s: FloatArray
    zone_enters: int
    dwells: Intervals


def visit_metrics(truth: Truth, found: Detected) -> dict[str, object]:
    """Store enter/exit recall and latency over shoppers; passers-by counted as visitors."""
    shopper = (truth.visit_kind == "shopper") & np.isfinite(truth.visits.start_s)
    tv = Intervals(
        truth.visits.device_id[shopper], truth.visits.start_s[shopper], truth.visits.end_s[shopper]
    )
    match = match_intervals(tv, found.visits)
    hit = match >= 0
    enter_lat = found.visit_enter_detected_s[match[hit]] - tv.start_s[hit]
    true_exit = np.isfinite(tv.end_s)
    found_exit = np.full(len(tv), np.nan)
    found_exit[hit] = found.visits.end_s[match[hit]]
    exit_found = true_exit & (np.abs(found_exit - tv.end_s) <= EXIT_MATCH_TOLERANCE_S)
    exit_det = np.full(len(tv), np.nan)
    exit_det[hit] = found.visit_exit_detected_s[match[hit]]
    passers = set(truth.visits.device_id[truth.visit_kind == "passerby"].tolist())
    staff = set(truth.visits.device_id[truth.visit_kind == "staff"].tolist())
    visitors = set(found.visits.device_id.tolist())
    matched_found = set(match[hit].tolist())
    unmatched = [i for i in range(len(found.visits)) if i not in matched_found]
    ghost = sum(1 for i in unmatched if str(found.visits.device_id[i]) not in staff)
    return {
        "true_visits": int(len(tv)),
        "detected_visits": int(len(found.visits)),
        "enter_recall": float(hit.mean()) if len(tv) else float("nan"),
        "exit_recall": float(exit_found.sum() / true_exit.sum())
        if true_exit.any()
        else float("nan"),
        "passersby_counted_as_visitors": len(passers & visitors),
        "passersby_visible": len(passers & set(truth.samples_device.tolist())),
        "extra_visits": int(ghost),
        "staff_devices_with_visits": len(staff & visitors),
        "enter_latency": latency_summary(enter_lat.tolist()),
        "exit_latency": latency_summary((exit_det - tv.end_s)[exit_found].tolist()),
    }


@dataclass(frozen=True, slots=True)
class CrbRadio:
    """What the Cramer-Rao bound needs of the true radio: exponent, per-reading spread
    (the static shadowing, which averaging over time does not remove) and the
    beacon-to-device height difference."""

    exponent: float
    sigma_db: float
    height_offset_m: float


#: Most fixes the bound is computed at (a seeded subsample beyond): the median is stable long before.
CRB_MAX_POINTS = 20_000


def crb_ratio(
    errors_m: FloatArray, true_xy: FloatArray, layout: Layout, radio: CrbRadio
) -> dict[str, float]:
    """Median error over the median Cramer-Rao bound at the same true positions.

    The device's gain is unknown to the locator (phones differ), so the bound has
    it as a nuisance parameter (Schur complement, positioning.crb).
    """
    if len(errors_m) == 0:
        return {"bound_median_m": float("nan"), "error_over_bound": float("nan")}
    pick = np.random.default_rng(0).permutation(len(errors_m))[:CRB_MAX_POINTS]
    bound = position_crb_m(
        true_xy[pick], layout.beacon_xy, radio.exponent, radio.sigma_db,
        height_offset_m=radio.height_offset_m, unknown_offset=True,
    )  # fmt: skip
    median_bound = float(np.median(bound))
    return {
        "bound_median_m": median_bound,
        "error_median_m": float(np.median(errors_m)),
        "error_over_bound": float(np.median(errors_m)) / median_bound,
    }


def evaluate(
    truth: Truth, found: Detected, layout: Layout, radio: CrbRadio | None = None
) -> dict[str, object]:
    """Every accuracy figure of a run against the truth, as a JSON-ready dict."""
    true_xy = interpolate_truth(
        found.t_s, found.device_id, truth.samples_t_s, truth.samples_device, truth.samples_xy_m
    )
    covered = np.isfinite(true_xy[:, 0])
    errors = np.hypot(*(found.xy_m - true_xy).T)
    in_store = covered & layout.contains(np.nan_to_num(true_xy))
    names = np.array([z.name for z in layout.zones] + [""], dtype=str)
    true_zone = names[layout.zone_of(np.nan_to_num(true_xy))]
    n_true = len(truth.zone_visits)
    zone_ok = found.zone[in_store] == true_zone[in_store]
    return {
        "position_error": error_summary(errors),
        "position_error_in_store": error_summary(errors[in_store]),
        "position_error_street": error_summary(errors[covered & ~in_store]),
        "fixes": int(len(found.t_s)),
        "fixes_without_truth": int((~covered).sum()),
        "zone_accuracy": float(zone_ok.mean()) if len(zone_ok) else float("nan"),
        "true_zone_visits": n_true,
        "zone_enter_events": found.zone_enters,
        "zone_enters_per_true_visit": found.zone_enters / n_true if n_true else float("nan"),
        "dwell": precision_recall(truth.dwells, found.dwells),
        "true_dwells_outside_zones": int((truth.dwell_zone == "").sum()),
        "visits": visit_metrics(truth, found),
        "crb": None
        if radio is None
        else crb_ratio(errors[in_store], true_xy[in_store], layout, radio),
    }
