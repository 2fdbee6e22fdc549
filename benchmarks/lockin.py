"""Lock-in check (issue 16 item 4): does a still device's error grow while it stands?

For every stationary stretch of the truth (the device within ``STILL_RADIUS_M`` of where the
stretch began for at least ``MIN_STRETCH_S``), the error of the locator's fixes at whole
seconds (scored as :func:`benchmarks.scenes.score` does) is summarised as the median over the
stretch's first and last thirds, and the least-squares slope of error against time (m per
10 min). On ``lab-six-spots-3h`` the stretches are the six spots, in time order, and item 4
asks the last to be no worse than the first + 0.3 m.

    python benchmarks/lockin.py                               # lab-six-spots-3h, tracker
    python benchmarks/lockin.py --scenes espresense-stationary lab-six-spots-3h \
        --locators tracker centroid --tracker still_evidence_s=120
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.accuracy import SCENES, locate, scene_dir, tracker_config  # noqa: E402
from benchmarks.scenes import MAX_AGE_S, load_scene  # noqa: E402
from positioning.positions import PositionRows  # noqa: E402
from positioning.registry import LOCATOR_NAMES  # noqa: E402

FloatArray = npt.NDArray[np.float64]

#: A device that stays this close to where it stopped is standing still, m.
STILL_RADIUS_M = 0.3
#: Shorter stops are walks' pauses, not stretches where lock-in could build up, s.
MIN_STRETCH_S = 300.0
#: Item 4's tolerance: the last spot's median error may exceed the first's by this, m.
LAST_SPOT_TOLERANCE_M = 0.3


@dataclass(frozen=True, slots=True)
class Stretch:
    """One stationary stretch of one device and its error over time."""

    device_id: str
    t0_s: float
    t1_s: float
    x_m: float
    y_m: float
    median_m: float
    first_third_m: float  # median error over the stretch's first third
    last_third_m: float  # and over its last third
    slope_m_per_10min: float  # least-squares slope of error against time

    @property
    def grows_m(self) -> float:
        return self.last_third_m - self.first_third_m


def still_stretches(
    t: FloatArray, x: FloatArray, y: FloatArray, min_s: float = MIN_STRETCH_S
) -> list[tuple[int, int]]:
    """[a, b) index ranges of the truth (time-ordered) where the device stays within
    STILL_RADIUS_M of the stretch's first sample for at least ``min_s``."""
    out = []
    a = 0
    while a < len(t):
        away = np.hypot(x[a:] - x[a], y[a:] - y[a]) > STILL_RADIUS_M
        b = a + (int(np.argmax(away)) if away.any() else len(t) - a)
        if t[b - 1] - t[a] >= min_s:
            out.append((a, b))
        a = max(b, a + 1)
    return out


def stretch_errors(
    truth: pd.DataFrame, positions: PositionRows, min_s: float = MIN_STRETCH_S
) -> list[Stretch]:
    """Every stationary stretch of every device of ``truth`` (t, device_id, x, y), in time
    order per device."""
    out = []
    for device, tr in truth.groupby("device_id", sort=True):
        tr = tr.sort_values("t", kind="stable")
        keep = np.r_[True, np.diff(np.floor(tr.t.to_numpy())) > 0]
        tr = tr[keep]
        ts, tx, ty = tr.t.to_numpy(), tr.x.to_numpy(), tr.y.to_numpy()
        mine = positions.device_id == device
        order = np.argsort(positions.t_s[mine], kind="stable")
        et = positions.t_s[mine][order]
        ex, ey = positions.x_m[mine][order], positions.y_m[mine][order]
        for a, b in still_stretches(ts, tx, ty, min_s):
            t = ts[a:b]
            k = np.searchsorted(et, t + 1e-6, side="right") - 1
            kk = np.clip(k, 0, None)
            have = (k >= 0) & (t - et[kk] <= MAX_AGE_S) if len(et) else np.zeros(len(t), bool)
            if have.sum() < 3:
                continue
            err = np.hypot(ex[kk] - tx[a:b], ey[kk] - ty[a:b])[have]
            th = t[have]
            third = max(1, len(err) // 3)
            slope = np.polyfit(th - th[0], err, 1)[0] * 600.0
            out.append(
                Stretch(
                    str(device),
                    float(t[0]),
                    float(t[-1]),
                    float(tx[a]),
                    float(ty[a]),
                    float(np.median(err)),
                    float(np.median(err[:third])),
                    float(np.median(err[-third:])),
                    float(slope),
                )
            )
    return out


def report(name: str, locator: str, stretches: list[Stretch], min_s: float = MIN_STRETCH_S) -> str:
    lines = [f"{name} / {locator}: {len(stretches)} stationary stretches (>= {min_s:.0f} s)"]
    lines.append(
        f"  {'device':<10} {'t0 s':>7} {'min':>5} {'x':>5} {'y':>5} {'med m':>6} "
        f"{'1st/3':>6} {'3rd/3':>6} {'grows':>6} {'m/10min':>8}"
    )
    for s in stretches:
        lines.append(
            f"  {s.device_id[:10]:<10} {s.t0_s:7.0f} {(s.t1_s - s.t0_s) / 60:5.1f} {s.x_m:5.1f} "
            f"{s.y_m:5.1f} {s.median_m:6.2f} {s.first_third_m:6.2f} {s.last_third_m:6.2f} "
            f"{s.grows_m:+6.2f} {s.slope_m_per_10min:+8.3f}"
        )
    if stretches:
        grows = np.array([s.grows_m for s in stretches])
        lines.append(
            f"  error grows over a stretch: worst {grows.max():+.2f} m (last third - first), "
            f"median {np.median(grows):+.2f} m"
        )
        by_device: dict[str, list[Stretch]] = {}
        for s in stretches:
            by_device.setdefault(s.device_id, []).append(s)
        for device, ss in by_device.items():
            if len(ss) >= 2:
                first, last = ss[0].median_m, ss[-1].median_m
                ok = last <= first + LAST_SPOT_TOLERANCE_M
                lines.append(
                    f"  {device}: last stretch {last:.2f} m vs first {first:.2f} m "
                    f"(+{LAST_SPOT_TOLERANCE_M} allowed): {'holds' if ok else 'FAILS'}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", nargs="+", choices=SCENES, default=["lab-six-spots-3h"])
    parser.add_argument("--locators", nargs="+", choices=LOCATOR_NAMES, default=["tracker"])
    parser.add_argument("--tracker", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--min-stretch-s",
        type=float,
        default=MIN_STRETCH_S,
        help="shortest stationary stretch, s (default %(default)s)",
    )
    args = parser.parse_args(argv)
    tracker = tracker_config(args.tracker) if args.tracker else None
    with tempfile.TemporaryDirectory(prefix="instore-lockin-") as tmp:
        for name in args.scenes:
            scene = load_scene(scene_dir(name, Path(tmp)), name)
            for locator in args.locators:
                out, _ = locate(scene.store, scene.batch, locator, args.seed, None, tracker)
                found = stretch_errors(scene.truth, out.positions, args.min_stretch_s)
                print(report(name, locator, found, args.min_stretch_s), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
