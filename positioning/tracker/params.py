"""The tracker's knobs (:class:`TrackerParams`), each with its default; the reasons are in
docs/positioning.md, "Tracker"."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from positioning.errors import PositioningError
from positioning.tracker.detection import DetectionParams
from positioning.tracker.likelihood import LikelihoodParams
from positioning.tracker.particles import MotionParams
from positioning.tracker.radiofit import SelfCalParams
from positioning.tracker.radiolearn import RadioLearnParams

__all__ = ["TrackerParams", "tracker_params"]


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """Every knob of the tracker, with its default; reasons in docs/positioning.md."""

    n_particles: int = 128
    step_s: float = 1.0
    window_s: float = 10.0
    max_beacons: int = 10
    reinit_after_s: float = 15.0
    forget_after_s: float = 600.0
    max_substep_s: float = 2.5
    resample_ess_fraction: float = 0.5
    roughen_m: float = 0.1
    init_cell_m: float = 0.5
    init_temper: float = 0.5
    lost_margin_nats: float = 3.0
    missing_beacons: int = 2
    chunk_devices: int = 512
    lost_inject_fraction: float = 0.25
    street_transit_s: float = 60.0
    street_nats_per_s: float = 2.0
    front_jump_per_s: float = 0.01
    shopfront_walls: float = 0.0
    self_calibrate: bool = True
    learn_radio_map: bool = True
    score_at_reading_time: bool = False
    mode_mean: bool = True
    standing_body_after_rows: float = 400.0
    radio_learn: RadioLearnParams = field(default_factory=RadioLearnParams)
    motion: MotionParams = field(default_factory=MotionParams)
    radio: LikelihoodParams = field(default_factory=LikelihoodParams)
    selfcal: SelfCalParams = field(default_factory=SelfCalParams)
    detection: DetectionParams = field(default_factory=DetectionParams)


def tracker_params(params: TrackerParams | None = None, **overrides: Any) -> TrackerParams:
    """TrackerParams with keyword overrides; unknown names raise PositioningError."""
    base = params or TrackerParams()
    names = {f.name for f in fields(TrackerParams)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise PositioningError(
            f"unknown tracker parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    return replace(base, **overrides)
