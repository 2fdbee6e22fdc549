"""The tracker's knobs (:class:`TrackerParams`), each with its unit, default and source
inline; the measurements are in docs/positioning.md, "Tracker"."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from positioning.errors import PositioningError
from positioning.tracker.detection import DetectionParams
from positioning.tracker.door import DoorParams
from positioning.tracker.likelihood import LikelihoodParams
from positioning.tracker.particles import MotionParams
from positioning.tracker.radiofit import SelfCalParams
from positioning.tracker.radiolearn import RadioLearnParams

__all__ = ["TrackerParams", "tracker_params"]


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """Every knob of the tracker, with its unit, default and source; the measurements behind
    each default are in docs/positioning.md, "Tracker" (the table and "Measured")."""

    #: Particles per device. 256 gave a mean median of 1.65 m against 1.72 m on ten
    #: accuracy-harness days, 512 1.44 m on six: more help a little and cost linearly.
    n_particles: int = 128
    #: Epoch length, s: one predict/update per heard device per second.
    step_s: float = 1.0
    #: A device is reported while heard in the last ``window_s``, s (0.2 Hz devices still appear).
    window_s: float = 10.0
    #: Beacons kept per device and epoch, the strongest: they carry the information, and the
    #: cap bounds the work per device.
    max_beacons: int = 10
    #: Unheard this long, s, a device restarts from the likelihood of its next epoch: after
    #: 15 s a walker (1.3 m/s) can be anywhere in a shop.
    reinit_after_s: float = 15.0
    #: Unheard this long, s, a device's state is dropped (memory bound).
    forget_after_s: float = 600.0
    #: Longest motion substep, s: the Ornstein-Uhlenbeck step is exact, substeps only split
    #: long gaps so the walkable-grid checks stay local.
    max_substep_s: float = 2.5
    #: Resample when the effective sample size falls below this fraction of the particles
    #: (Doucet & Johansen, "A tutorial on particle filtering and smoothing", 2009).
    resample_ess_fraction: float = 0.5
    #: Jitter after resampling, m: keeps diversity, below the walkable grid's 0.25 m.
    roughen_m: float = 0.1
    #: Cell of the coarse grid a new device's particles start from, m.
    init_cell_m: float = 0.5
    #: Tempering exponent of the first epoch's likelihood when starting (0-1): one noisy
    #: epoch does not over-commit the start.
    init_temper: float = 0.5
    #: A device is "lost" when one of its proposal points (centroid, strongest beacons)
    #: explains the epoch's readings better than its best particle by this many nats; it is
    #: then resampled and ``lost_inject_fraction`` of its particles re-drawn. 3 and 0.25:
    #: recovery without shaking a good track (2 measured in docs/positioning.md).
    lost_margin_nats: float = 3.0
    #: Unheard beacons, the ones most likely to be heard where the device is, that enter the
    #: likelihood as misses, per device and epoch (item 2). 2 best of 1, 2, 3, 5 on six simulated days (mean median
    #: 1.16 m against 1.20-1.23 m), passers-by counted 9 -> 3 ("Session 4").
    missing_beacons: int = 2
    #: Devices per vectorised block: keeps the (devices, particles, beacons) temporaries in cache.
    chunk_devices: int = 512
    #: Fraction of a lost device's particles re-drawn from the start likelihood (0-1).
    lost_inject_fraction: float = 0.25
    #: A track heard longer than this, s, loses its street hypotheses (item 6): a passer-by is
    #: heard 16-37 s in the simulator (368 passers-by, 2 h); 60 m of street at 1.35 m/s is 44 s.
    street_transit_s: float = 60.0
    #: Penalty per second past ``street_transit_s`` on particles in the street, nats/s: must
    #: beat the 0.1-0.3 nats/s the street can out-score the truth by; 0.5 left 2 of 6
    #: simulated phones behind the glass outside.
    street_nats_per_s: float = 2.0
    #: Rate at which a particle tries its mirror image across the shop front, 1/s: one or two
    #: of 128 particles per second.
    front_jump_per_s: float = 0.01
    #: Obstacle crossings the shop front counts as for street cells in the tracker's radio
    #: maps (0: the glass is not modelled; each crossing costs the fitted obstacle loss, dB):
    #: modelling it helped on 3 of 4 simulated days and flips passers-by inside where the
    #: front is open (item 6).
    shopfront_walls: float = 0.0
    #: Fit exponent, obstacle loss and beacon/device offsets online (:mod:`.selfcal`).
    self_calibrate: bool = True
    #: Learn a correction of the radio map per beacon and floor cell from walkers' fixes
    #: (:mod:`.radiolearn`): better median on 4 of 4 development and 4 of 4 held-out days.
    learn_radio_map: bool = True
    #: Score each reading at its own time instead of the epoch's (item 2): helps walked tracks
    #: (plain data), not the simulator's mostly standing shoppers; off.
    score_at_reading_time: bool = False
    #: The fix is the mean of the device's more likely mode (item 1): plain-data walkers
    #: 1.98 -> 1.74 m, standing 0.49 -> 0.42 m.
    mode_mean: bool = True
    #: Walkers' rows before a standing particle's heading carries the body loss (item 2):
    #: plain data ``standing-alone`` 1.88 -> 0.61 m; showroom (few walkers) 0.66 -> 0.84 m.
    standing_body_after_rows: float = 400.0
    #: Time constant of the model check's running means, s (issue 16).
    check_tau_s: float = 30.0
    #: Reported sigma_m = sqrt((a k spread)^2 + (b d)^2 + (e s)^2 + c^2): a the scale of the
    #: particles' spread, k the root of the fit statistic (>= 1), d the RMS distance to the
    #: model-free fix, s the still-stretch disagreement (``sigma_still_scale`` is e), c a
    #: floor, m. The spread alone covered 16-46 % of errors within 2 sigma_m on real and
    #: scripted scenes. a, b, c = 2, 0.5, 0.5 m (issue 16 phases 1-3) left five simulated days
    #: at 0.85-0.92 within 1 sigma_m, the instant d (4.7 m median on the fashion day) too wide
    #: where the model holds; a, b, e, c = 1.875, 0.1, 1.0, 1.1 m put 13 of 17 scenes inside
    #: 50-80 % / >= 90 % against 10, and moved the other four closer (docs/positioning.md,
    #: "Issue 16 phase 4"). Only the reported radius (and p_zone) changes, not the fix.
    sigma_spread_scale: float = 1.875
    sigma_disagree_scale: float = 0.1
    sigma_floor_m: float = 1.1
    #: d measured from the centroid heard to the centroid the model expects at the fix,
    #: instead of from the fix to the centroid heard (issue 16 phase 3: the centroid's own
    #: pull to the beacons' middle is geometry, not the fix's error).
    sigma_centroid_debias: bool = False
    #: Evidence of a device standing still, s (issue 16 phase 4; 0: off): a still device sees
    #: the same static shadowing every epoch, so its epochs are not independent looks; after
    #: this long standing, each epoch's log-likelihood counts min(1, still_evidence_s / t)
    #: (t: seconds the device has stood), so a stay's evidence grows as log t, not as t.
    still_evidence_s: float = 0.0
    #: Weight of the still-stretch disagreement in sigma_m (:mod:`.uncertainty`, issue 16
    #: phase 4): the length of the mean, over the device's current still stretch, of the vector
    #: from the centroid expected at the fix to the centroid heard; 0 leaves it out.
    sigma_still_scale: float = 1.0
    #: RMS of one epoch's centroid disagreement the stretch mean is debiased by, m: a mean of
    #: n epochs keeps noise^2 / n of it as length^2 without any persistent error.
    sigma_still_noise_m: float = 1.5
    #: How much the store has been learned, in sigma_m (issue 16.3; 0: off). The model-error
    #: part of sigma_m^2 (every term above) is scaled by q = f + (1 - f) L0 / (L0 + L), L the
    #: rows per beacon the radio map has learned from (``sigma_learned_rows`` is L0,
    #: ``sigma_learned_share`` f): as the store is learned the model's errors shrink
    #: (docs/positioning.md, "Issue 16, session 28: how much is learned").
    sigma_learned_rows: float = 0.0
    sigma_learned_share: float = 1.0
    #: The bias of a stand, m (issue 16.3; 0: off): a still device sees one static shadowing
    #: draw, so its error is a bias no number of epochs averages away, while the particles'
    #: spread shrinks with each epoch as if it did. For a device not walking, sigma_m^2 gains
    #: (g n / (n + N))^2, n the epochs of its current still stretch, g ``sigma_stand_m``, N
    #: ``sigma_stand_epochs``; it does not shrink as the store is learned. g, N = 3.5 m, 600
    #: epochs (session 30) brought the six-spot scene inside (0.50 / 0.84 -> 0.63 / 0.93 within
    #: 1 / 2 sigma_m over seeds) and kept every scene inside at each seed 0-2 where the default
    #: was (docs/positioning.md, "Issue 16, session 30: the stand term as the default").
    sigma_stand_m: float = 3.5
    sigma_stand_epochs: float = 600.0
    #: The honest radius of a walking device scaled by w (issue 16.3; 1: off): sigma_m^2 =
    #: (h (1 - (1 - w) f))^2 + stand^2, h the radius above, f the cloud's walking weight.
    #: Applied after p_zone's widening (p_zone and the self-calibration do not see it).
    #: Measured, not the default (docs/positioning.md, "Issue 16, session 30: walking fixes'
    #: sigma_m"): narrowing walking fixes takes kolakowski-robot's default under 0.5 within 1.
    sigma_walk_scale: float = 1.0
    #: The learned radio map's knobs (:class:`~positioning.tracker.radiolearn.RadioLearnParams`).
    radio_learn: RadioLearnParams = field(default_factory=RadioLearnParams)
    #: The pedestrian motion model (:class:`~positioning.tracker.particles.MotionParams`).
    motion: MotionParams = field(default_factory=MotionParams)
    #: The RSSI measurement model, dB (:class:`~positioning.tracker.likelihood.LikelihoodParams`).
    radio: LikelihoodParams = field(default_factory=LikelihoodParams)
    #: The online radio fit (:class:`~positioning.tracker.radiofit.SelfCalParams`).
    selfcal: SelfCalParams = field(default_factory=SelfCalParams)
    #: The receiver floor and miss model (:class:`~positioning.tracker.detection.DetectionParams`).
    detection: DetectionParams = field(default_factory=DetectionParams)
    #: Door evidence pooled into ``p_inside`` (:class:`~positioning.tracker.door.DoorParams`,
    #: issue 17.2): off by default (weight 0); figures in docs/planning.md, "Measured".
    door: DoorParams = field(default_factory=DoorParams)
    #: Weight of the cloud as it is in p_zone, the rest that of the cloud widened to the honest
    #: sigma_m (:meth:`~positioning.tracker.zone_posterior.ZonePosterior.honest_p_zone`; 0: the
    #: widened cloud alone, the phase-4 p_zone). 0.5 brought the reliability table's mean
    #: |predicted - observed| from 0.115 to 0.068 over the 13 scenes with zones (issue 16,
    #: session 27; docs/positioning.md).
    zone_p_model_weight: float = 0.5


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
