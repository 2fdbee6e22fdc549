"""Every locator on data that is not our simulator's: a guard against fitting the method to it.

    python benchmarks/plain_data.py [--minutes 10] [--anchors 15] [--seed 1]

The accuracy harness (benchmarks/accuracy.py) scores the locators on ``sim``'s output,
whose radio model the tracker's was written beside. Here the data come from the
textbook model instead (log-distance path loss, Gaussian noise per reading, packet loss,
a receiver floor, a gain offset per device, no shadowing field), in a plain room with no
shelves, no zones, no entrance and anchors with numeric ids, as a lab recording would:
some devices stand still for the whole recording (long stationary recordings), others
walk loops at about 1 m/s (walked tracks). Variants change one thing each: the
exponent the layout does not declare, and a body between phone and beacon.

Prints, per variant and locator, the median and 90th percentile error of the standing
and of the walking devices, in metres.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_locate import epochs  # noqa: E402

from beacons.observation import ObservationBatch  # noqa: E402
from positioning.layout import Layout, parse_layout  # noqa: E402
from positioning.locators import make_locator  # noqa: E402

FloatArray = npt.NDArray[np.float64]

ROOM_M = (24.0, 12.0)
RATE_HZ = 5.0  # advertisements heard per anchor and second, before packet loss
PACKET_LOSS = 0.5
FLOOR_DBM = -95.0
NOISE_DB = 4.0
DEVICE_OFFSET_SIGMA_DB = 3.0
HEIGHT_M = 1.2  # anchor above the phone, as the layout's default assumes
LOCATORS = ("centroid", "wls", "tracker")


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    exponent: float = 2.0
    body_loss_db: float = 0.0


VARIANTS = (
    Variant("matched"),
    Variant("exponent 2.5", exponent=2.5),
    Variant("body 7 dB", body_loss_db=7.0),
)


def room(anchors: int) -> Layout:
    """A plain room with ``anchors`` on a grid, ids "100", "101", ..."""
    w, h = ROOM_M
    cols = int(np.ceil(anchors / 3))
    xy = [(x, y) for x in np.linspace(1.0, w - 1.0, cols) for y in (1.0, h / 2, h - 1.0)]
    doc: dict[str, Any] = {
        "store": {"name": "plain-room", "width": w, "height": h},
        "radio": {"path_loss_exponent": 2.0},
        "beacons": [
            {"id": str(100 + i), "x": float(x), "y": float(y), "tx_power": -59.0}
            for i, (x, y) in enumerate(xy[:anchors])
        ],
    }
    return parse_layout(doc)


def tracks(seconds: float, rng: np.random.Generator) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Device -> (positions (T, 2), headings (T,)) at 10 Hz: 4 standing, 3 walking loops."""
    w, h = ROOM_M
    t = np.arange(0.0, seconds, 0.1)
    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    for i in range(4):
        xy = rng.uniform([2.0, 2.0], [w - 2.0, h - 2.0])
        out[f"still-{i}"] = (np.tile(xy, (len(t), 1)), np.full(len(t), rng.uniform(-np.pi, np.pi)))
    for i in range(3):
        rx, ry = rng.uniform(4.0, w / 2 - 2.0), rng.uniform(2.0, h / 2 - 1.5)
        omega = 1.0 / np.hypot(rx, ry) * np.sqrt(2.0)  # about 1 m/s round the ellipse
        a = omega * t + rng.uniform(0, 2 * np.pi)
        xy = np.column_stack([w / 2 + rx * np.cos(a), h / 2 + ry * np.sin(a)])
        v = np.gradient(xy, axis=0)
        out[f"walk-{i}"] = (xy, np.arctan2(v[:, 1], v[:, 0]))
    return out


def observe(
    layout: Layout,
    paths: dict[str, tuple[FloatArray, FloatArray]],
    variant: Variant,
    rng: np.random.Generator,
) -> ObservationBatch:
    """Readings of every anchor by every device, by the textbook model."""
    t_path = np.arange(0.0, len(next(iter(paths.values()))[0])) * 0.1
    anchors = layout.beacon_xy
    parts = []
    for device, (xy, heading) in paths.items():
        offset = rng.normal(0.0, DEVICE_OFFSET_SIGMA_DB)
        for b, (bx, by) in enumerate(anchors):
            t = np.arange(rng.uniform(0, 1 / RATE_HZ), t_path[-1], 1 / RATE_HZ)
            t = t[rng.random(len(t)) >= PACKET_LOSS]
            k = np.minimum((t / 0.1).astype(np.int64), len(t_path) - 1)
            dx, dy = bx - xy[k, 0], by - xy[k, 1]
            d = np.sqrt(dx * dx + dy * dy + HEIGHT_M**2)
            behind = 0.5 * (1.0 - np.cos(np.arctan2(dy, dx) - heading[k]))
            rssi = (
                -59.0
                + offset
                - 10.0 * variant.exponent * np.log10(d)
                - variant.body_loss_db * behind
                + rng.normal(0.0, NOISE_DB, len(t))
            )
            heard = rssi >= FLOOR_DBM
            parts.append(
                ObservationBatch.from_arrays(
                    t[heard],
                    np.full(int(heard.sum()), device),
                    np.full(int(heard.sum()), layout.beacons[b].id),
                    np.round(rssi[heard]),
                )
            )
    return ObservationBatch.from_arrays(
        np.concatenate([p.t_s for p in parts]),
        np.concatenate([p.device_id for p in parts]),
        np.concatenate([p.beacon_id for p in parts]),
        np.concatenate([p.rssi_dbm for p in parts]),
    ).sorted_by_time()


def errors(
    layout: Layout,
    batch: ObservationBatch,
    paths: dict[str, tuple[FloatArray, FloatArray]],
    locator: str,
    seed: int,
) -> tuple[dict[str, FloatArray], float]:
    """Per device kind ("still", "walk"), the error of every fix after the first minute."""
    loc = make_locator(locator, layout, seed=seed)
    found: dict[str, list[float]] = {"still": [], "walk": []}
    started = time.perf_counter()
    for t_s, rows in epochs(batch):
        loc.observe(rows)
        fix = loc.estimate(t_s)
        if t_s < 60.0:
            continue
        k = int(round(t_s / 0.1))
        for device, xy in zip(fix.device_id, fix.xy_m, strict=True):
            true_xy = paths[str(device)][0][min(k, len(paths[str(device)][0]) - 1)]
            found[str(device).split("-")[0]].append(float(np.hypot(*(xy - true_xy))))
    return {kind: np.asarray(e) for kind, e in found.items()}, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--anchors", type=int, default=15, help="10-24 anchors")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    layout = room(args.anchors)
    head = (
        f"{'variant':14} {'locator':9} {'still med':>9} {'still p90':>9} "
        f"{'walk med':>9} {'walk p90':>9} {'s':>5}"
    )
    print(head)
    print("-" * len(head))
    for variant in VARIANTS:
        rng = np.random.default_rng(args.seed)
        paths = tracks(args.minutes * 60.0, rng)
        batch = observe(layout, paths, variant, rng)
        for locator in LOCATORS:
            e, elapsed = errors(layout, batch, paths, locator, args.seed)
            print(
                f"{variant.name:14} {locator:9} {np.median(e['still']):9.2f} "
                f"{np.percentile(e['still'], 90):9.2f} {np.median(e['walk']):9.2f} "
                f"{np.percentile(e['walk'], 90):9.2f} {elapsed:5.1f}",
                flush=True,
            )
    print(
        f"\n{args.anchors} anchors in a {ROOM_M[0]:g} x {ROOM_M[1]:g} m room, {args.minutes:g} min, "
        f"4 standing and 3 walking devices; errors after the first minute, metres"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
