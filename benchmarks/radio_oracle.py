"""Which radio term costs the tracker its error on a real scene? Oracle runs (issue 16).

The radio model is fitted at the TRUE positions of a scene's readings
(:func:`positioning.tracker.selfcal.calibrate_at_known_points`: exponent, obstacle loss and
per-receiver offsets), then the tracker runs from that calibration, either held fixed
(``self_calibrate`` off) or refined online as usual. Parts of the fit can be kept: the
exponent and obstacle loss only (offsets 0), or those with one offset common to every
receiver (the fit's mean). ``--fit-on`` fits on another scene of the same place (a site
calibration a deployment could have made), so an in-sample fit is told from one that
transfers. ``--static`` prints, for a scene with one still device, where the model's own
least-squares point lies at a few exponents (device offset profiled out): what no tracker
setting can beat without learning more than the exponent.

    python benchmarks/radio_oracle.py kolakowski-robot --parts all common exponent --seeds 0 1 2
    python benchmarks/radio_oracle.py kolakowski-robot --fit-on kolakowski-calib
    python benchmarks/radio_oracle.py espresense-stationary --static

Figures: docs/positioning.md, "Issue 16, session 27: oracle radio on the real scenes".
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt

from benchmarks.accuracy import locate
from benchmarks.scenes import RECORDINGS, Scene, load_scene, score
from positioning.pathloss import beacon_height_offsets_m
from positioning.registry import TrackerConfig
from positioning.tracker.params import TrackerParams
from positioning.tracker.selfcal import RadioCalibration, calibrate_at_known_points

__all__ = ["PARTS", "keep_parts", "readings_at_truth", "static_fix", "truth_calibration"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: What of the truth-fitted calibration the tracker starts from.
PARTS = ("all", "common", "exponent")
#: Exponents the still-device least-squares point is shown at.
STATIC_EXPONENTS = (1.4, 1.8, 2.0, 2.5, 3.0)


def readings_at_truth(scene: Scene) -> tuple[IntArray, FloatArray, FloatArray]:
    """(R,) beacon index, (R,) RSSI and (R, 2) true position of every reading taken while its
    device has truth (interpolated in time per device; readings outside its span dropped)."""
    batch = scene.batch
    xy = np.full((len(batch), 2), np.nan)
    for device, truth in scene.truth.sort_values("t").groupby("device_id"):
        t = truth.t.to_numpy(float)
        rows = np.flatnonzero(
            (batch.device_id == device) & (batch.t_s >= t[0]) & (batch.t_s <= t[-1])
        )
        for axis, column in enumerate(("x", "y")):
            xy[rows, axis] = np.interp(batch.t_s[rows], t, truth[column].to_numpy(float))
    keep = np.isfinite(xy[:, 0])
    index = {beacon_id: i for i, beacon_id in enumerate(scene.layout.beacon_ids)}
    beacon = np.array([index[b] for b in batch.beacon_id[keep]], dtype=np.int64)
    return beacon, np.asarray(batch.rssi_dbm[keep], np.float64), xy[keep]


def truth_calibration(scene: Scene) -> RadioCalibration:
    """The radio model fitted at the true positions of the scene's readings."""
    return calibrate_at_known_points(scene.layout, *readings_at_truth(scene))


def keep_parts(cal: RadioCalibration, parts: str) -> RadioCalibration:
    """``all``: as fitted; ``common``: every offset the fit's mean; ``exponent``: offsets 0."""
    if parts == "all":
        return cal
    offsets = cal.beacon_offset_db
    kept = np.full_like(offsets, offsets.mean()) if parts == "common" else np.zeros_like(offsets)
    return RadioCalibration(cal.exponent, kept, cal.obstacle_loss_db)


def static_fix(scene: Scene, exponent: float, cell_m: float = 0.1) -> FloatArray:
    """(2,) least-squares point of the log-distance model for the scene's per-receiver median
    RSSI (one still device; its gain offset profiled out), on a ``cell_m`` grid of the floor."""
    layout = scene.layout
    beacon, rssi, _ = readings_at_truth(scene)
    median = np.array([np.median(rssi[beacon == b]) for b in range(len(layout.beacons))])
    xs, ys = np.meshgrid(
        np.arange(0, layout.width_m, cell_m), np.arange(0, layout.height_m, cell_m)
    )
    points = np.column_stack([xs.ravel(), ys.ravel()])
    d2 = ((points[:, None, :] - layout.beacon_xy[None]) ** 2).sum(-1)
    d = np.sqrt(d2 + beacon_height_offsets_m(layout) ** 2)
    residual = median - (layout.tx_power_dbm - 10.0 * exponent * np.log10(np.maximum(d, 0.5)))
    residual -= residual.mean(axis=1, keepdims=True)
    return np.asarray(points[np.argmin((residual**2).sum(axis=1))], np.float64)


def run(scene: Scene, cal: RadioCalibration | None, fixed: bool, seed: int) -> dict[str, float]:
    params = TrackerParams(self_calibrate=not fixed) if cal is not None else TrackerParams()
    out, _ = locate(scene.store, scene.batch, "tracker", seed, None, TrackerConfig(params, cal))
    return score(scene, out.positions, out.events)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scene", help="a real scene of examples/recordings/")
    ap.add_argument("--fit-on", help="fit the radio on this scene instead (same place)")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=["all"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--static", action="store_true", help="the still device's model optimum")
    args = ap.parse_args(argv)
    scene = load_scene(RECORDINGS / args.scene, args.scene)
    if args.static:
        truth = scene.truth[["x", "y"]].to_numpy(float)[0]
        for n in STATIC_EXPONENTS:
            xy = static_fix(scene, n)
            print(
                f"exponent {n}: model optimum {np.round(xy, 2)}, {np.hypot(*(xy - truth)):.2f} m off"
            )
        return 0
    source = scene if args.fit_on is None else load_scene(RECORDINGS / args.fit_on, args.fit_on)
    fitted = truth_calibration(source)
    print(
        f"fitted on {source.name}: exponent {fitted.exponent:.2f}, obstacle loss "
        f"{fitted.obstacle_loss_db:.1f} dB, offsets {np.round(fitted.beacon_offset_db, 1)} dB"
    )
    runs: list[tuple[str, RadioCalibration | None, bool]] = [("default", None, False)]
    for parts in args.parts:
        cal = keep_parts(fitted, parts)
        runs += [(f"{parts}, refined", cal, False), (f"{parts}, fixed", cal, True)]
    for label, cal, fixed in runs:
        figures = [run(scene, cal, fixed, seed) for seed in args.seeds]
        text = ", ".join(f"{r['median_m']:.2f} / {r['p90_m']:.2f}" for r in figures)
        print(f"{label:20s} median / p90 m over seeds {args.seeds}: {text}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
