"""From information sums to what staff read: position bound, zone confusion, the door.

- **Position bound** (m): sqrt of the trace of the (x, y) block of the inverse Fisher
  information, with a prior on the phone's offset (phone models differ by
  ``device_offset_sigma_db``), capped at :data:`MAX_BOUND_M`.
- **Zone confusion**: the chance that a fix at a point lands across the nearest edge of
  the point's zone: Q(m / s) for margin m to the edge and per-axis spread
  s^2 = bound^2 / 2 (the Gaussian tail along the edge's normal).
- **Door evidence** (nats/s): at 1 m inside, the rate against the street point that looks
  most alike; the **decision time** is :data:`DECISION_NATS` over it (Wald's sequential
  test: the expected time to the threshold is the threshold over the drift).
- **Enter latency** (s): a shopper walking straight in at the simulator's mean speed
  gathers the evidence of each depth in turn; the latency is when the sum first reaches
  :data:`DECISION_NATS`, capped at :data:`MAX_LATENCY_S`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from planning.floor import DOOR_DEPTHS_M, Floor
from planning.information import Information
from planning.radio import PlanRadio
from sim.params import CrowdParams

__all__ = ["Assessment", "DECISION_NATS", "MAX_BOUND_M", "MAX_LATENCY_S", "assess"]

FloatArray = npt.NDArray[np.float64]

#: Evidence for a 95 % / 5 % decision: ln(0.95 / 0.05).
DECISION_NATS = float(np.log(19.0))
#: Cap on the bound where the radios give (almost) no information, metres.
MAX_BOUND_M = 30.0
#: Cap on the door figures, seconds.
MAX_LATENCY_S = 60.0
#: The depth (m) behind the door line at which "just inside" is scored.
JUST_INSIDE_M = 1.0


@dataclass(frozen=True, slots=True)
class Assessment:
    bound_m: FloatArray  # (P,)
    confusion: FloatArray  # (P,) chance a fix leaves its zone; nan outside zones
    zone_confusion: dict[str, float]  # zone name -> mean chance over its points
    door_rate_nats_s: float  # at 1 m inside, worst street point, median over entry lines
    door_decision_s: float
    enter_latency_s: float  # median over entry lines
    door_rate_by_depth: FloatArray  # (L, D) nats/s, worst street point

    @property
    def bound_median_m(self) -> float:
        return float(np.median(self.bound_m))

    @property
    def bound_p90_m(self) -> float:
        return float(np.quantile(self.bound_m, 0.9))

    @property
    def mean_confusion(self) -> float:
        return float(np.nanmean(self.confusion)) if np.isfinite(self.confusion).any() else 0.0

    def headline(self) -> dict[str, float]:
        return {
            "bound_median_m": self.bound_median_m,
            "bound_p90_m": self.bound_p90_m,
            "zone_confusion": self.mean_confusion,
            "door_nats_per_s": self.door_rate_nats_s,
            "door_decision_s": self.door_decision_s,
            "enter_latency_s": self.enter_latency_s,
        }


def assess(total: Information, floor: Floor, radio: PlanRadio, zone_names: list[str]) -> Assessment:
    """``total`` holds one row: the sums over every radio."""
    bound = _bound(total.fisher[0], radio)
    confusion = np.full(len(bound), np.nan)
    in_zone = floor.zone >= 0
    spread = np.maximum(bound[in_zone] / np.sqrt(2.0), 1e-9)
    confusion[in_zone] = 0.5 * special.erfc(floor.zone_margin_m[in_zone] / (spread * np.sqrt(2.0)))
    per_zone = {
        name: float(confusion[floor.zone == z].mean()) if (floor.zone == z).any() else float("nan")
        for z, name in enumerate(zone_names)
    }
    rate = _door_rate(total.door[0])
    if rate.size == 0:
        nan = float("nan")
        return Assessment(bound, confusion, per_zone, nan, nan, nan, rate)
    at = int(np.argmin(np.abs(DOOR_DEPTHS_M - JUST_INSIDE_M)))
    door_rate = float(np.median(rate[:, at]))
    decision = min(DECISION_NATS / max(door_rate, 1e-9), MAX_LATENCY_S)
    latency = float(np.median([_walk_in_latency(r) for r in rate]))
    return Assessment(bound, confusion, per_zone, door_rate, decision, latency, rate)


def _bound(f: FloatArray, radio: PlanRadio) -> FloatArray:
    xx, xy, xc, yy, yc, cc = (f[:, i] for i in range(6))
    cc = cc + 1.0 / radio.params.device_offset_sigma_db**2
    # (x, y) block of the inverse: Schur complement of cc
    a = xx - xc * xc / cc
    b = xy - xc * yc / cc
    d = yy - yc * yc / cc
    det = a * d - b * b
    trace_inv = (a + d) / np.where(det > 1e-12, det, np.nan)
    bound = np.sqrt(np.clip(np.nan_to_num(trace_inv, nan=MAX_BOUND_M**2), 0.0, MAX_BOUND_M**2))
    return np.asarray(bound)


def _door_rate(sums: FloatArray) -> FloatArray:
    """(L, D) nats/s against the street point that looks most alike."""
    s0, s1, s2 = sums
    rate = 0.5 * (s2 - s1**2 / np.maximum(s0, 1e-12))
    return np.asarray(rate.min(axis=-1)) if rate.size else np.empty((0, len(DOOR_DEPTHS_M)))


def _walk_in_latency(rate_by_depth: FloatArray) -> float:
    speed = CrowdParams().walk_speed_mean_mps
    step_s = float(DOOR_DEPTHS_M[1] - DOOR_DEPTHS_M[0]) / speed
    gathered = np.cumsum(np.maximum(rate_by_depth, 0.0) * step_s)
    depth_time = DOOR_DEPTHS_M / speed
    reached = np.flatnonzero(gathered >= DECISION_NATS)
    if len(reached):
        return float(depth_time[reached[0]])
    # past the deepest point the shopper keeps gathering at the last rate
    last = max(float(rate_by_depth[-1]), 1e-9)
    extra = (DECISION_NATS - gathered[-1]) / last
    return float(min(depth_time[-1] + extra, MAX_LATENCY_S))
