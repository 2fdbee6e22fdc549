"""Every locator on data that is not our simulator's: a guard against fitting the method to it.

    python benchmarks/plain_data.py [--minutes 10] [--anchors 15] [--seed 1] [--variants ...]

The accuracy harness (benchmarks/accuracy.py) scores the locators on ``sim``'s output,
whose radio model the tracker's was written beside. Here the data come from the
textbook model instead (log-distance path loss, Gaussian noise per reading, packet loss,
a receiver floor, a gain offset per device, no shadowing field), in a plain room with no
shelves, no zones, no entrance and anchors with numeric ids, as a lab recording would:
some devices stand still for the whole recording (long stationary recordings), others
walk loops at about 1 m/s (walked tracks). Variants change one thing each: the
exponent the layout does not declare, a body between phone and beacon, and the crowd:
held-out recordings are mostly of one device at a time, so two variants have a single
device in the room, either walking a route between random waypoints with a few short
stops (24 min) or standing at four spots in turn, 7.5 min each (30 min; the short walks
between the spots are not scored).

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
from positioning.registry import make_locator  # noqa: E402

FloatArray = npt.NDArray[np.float64]

ROOM_M = (24.0, 12.0)
RATE_HZ = 5.0  # advertisements heard per anchor and second, before packet loss
PACKET_LOSS = 0.5
FLOOR_DBM = -95.0
NOISE_DB = 4.0
DEVICE_OFFSET_SIGMA_DB = 3.0
HEIGHT_M = 1.2  # anchor above the phone, as the layout's default assumes
LOCATORS = ("centroid", "wls", "tracker")
NO_MAP = "tracker-no-map"


WALK_SPEED_M_S = (0.8, 1.2)
STOP_CHANCE = 0.3  # at each waypoint of a walked route
STOP_S = (5.0, 30.0)
SPOTS = 4  # of a device standing alone
#: Per sample of a track: positions (T, 2), headings (T,), moving (T,).
Track = tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]


@dataclass(frozen=True, slots=True)
class Variant:
    """``scene``: "crowd" (4 standing, 3 walking devices for ``--minutes``), "walker" (one
    device walking a route with stops) or "standing" (one device at a few spots in turn)."""

    name: str
    exponent: float = 2.0
    body_loss_db: float = 0.0
    scene: str = "crowd"
    minutes: float | None = None  # None: --minutes


VARIANTS = (
    Variant("matched"),
    Variant("exponent-2.5", exponent=2.5),
    Variant("body-7dB", body_loss_db=7.0),
    Variant("walker-alone", scene="walker", minutes=24.0),
    Variant("standing-alone", scene="standing", minutes=30.0),
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


def tracks(seconds: float, rng: np.random.Generator) -> dict[str, Track]:
    """Device -> track at 10 Hz: 4 standing, 3 walking loops."""
    w, h = ROOM_M
    t = np.arange(0.0, seconds, 0.1)
    out: dict[str, Track] = {}
    for i in range(4):
        xy = rng.uniform([2.0, 2.0], [w - 2.0, h - 2.0])
        heading = np.full(len(t), rng.uniform(-np.pi, np.pi))
        out[f"still-{i}"] = (np.tile(xy, (len(t), 1)), heading, np.zeros(len(t), bool))
    for i in range(3):
        rx, ry = rng.uniform(4.0, w / 2 - 2.0), rng.uniform(2.0, h / 2 - 1.5)
        omega = 1.0 / np.hypot(rx, ry) * np.sqrt(2.0)  # about 1 m/s round the ellipse
        a = omega * t + rng.uniform(0, 2 * np.pi)
        xy = np.column_stack([w / 2 + rx * np.cos(a), h / 2 + ry * np.sin(a)])
        v = np.gradient(xy, axis=0)
        out[f"walk-{i}"] = (xy, np.arctan2(v[:, 1], v[:, 0]), np.ones(len(t), bool))
    return out


def route(seconds: float, rng: np.random.Generator, spots: FloatArray | None = None) -> Track:
    """A walk between waypoints at 10 Hz: random ones with a stop at some (``spots``
    None), or each of ``spots`` in turn with an equal share of ``seconds`` spent there."""
    w, h = ROOM_M
    xy = [rng.uniform([1.5, 1.5], [w - 1.5, h - 1.5]) if spots is None else spots[0]]
    moving = [False]
    while len(xy) < seconds * 10:
        if spots is None:
            goal = rng.uniform([1.5, 1.5], [w - 1.5, h - 1.5])
            stop = rng.uniform(*STOP_S) if rng.random() < STOP_CHANCE else 0.0
        else:
            goal = spots[len(xy) * len(spots) // int(seconds * 10 + 1)]
            stop = 1.0
        steps = int(np.ceil(np.hypot(*(goal - xy[-1])) / (rng.uniform(*WALK_SPEED_M_S) * 0.1)))
        xy.extend(xy[-1] + (goal - xy[-1]) * (np.arange(1, steps + 1) / max(steps, 1))[:, None])
        moving.extend([True] * steps)
        xy.extend([goal] * int(stop * 10))
        moving.extend([False] * int(stop * 10))
    pos = np.asarray(xy[: int(seconds * 10)])
    v = np.diff(pos, axis=0, prepend=pos[:1])
    heading = np.arctan2(v[:, 1], v[:, 0])
    still = np.hypot(v[:, 0], v[:, 1]) < 1e-9
    heading[still] = np.nan  # a standing phone keeps the heading it arrived with
    first = rng.uniform(-np.pi, np.pi) if np.isnan(heading[0]) else heading[0]
    heading = _fill_forward(heading, first)
    return pos, heading, np.asarray(moving[: int(seconds * 10)])


def _fill_forward(x: FloatArray, first: float) -> FloatArray:
    ok = ~np.isnan(x)
    ok[0] = True
    x = x.copy()
    x[0] = first if np.isnan(x[0]) else x[0]
    return np.asarray(x[np.maximum.accumulate(np.where(ok, np.arange(len(x)), 0))])


def scene(variant: Variant, seconds: float, rng: np.random.Generator) -> dict[str, Track]:
    """The devices of ``variant``'s scene (see :class:`Variant`)."""
    if variant.scene == "walker":
        return {"walk-0": route(seconds, rng)}
    if variant.scene == "standing":
        w, h = ROOM_M
        spots = rng.uniform([2.0, 2.0], [w - 2.0, h - 2.0], (SPOTS, 2))
        return {"still-0": route(seconds, rng, spots)}
    return tracks(seconds, rng)


def observe(
    layout: Layout,
    paths: dict[str, Track],
    variant: Variant,
    rng: np.random.Generator,
) -> ObservationBatch:
    """Readings of every anchor by every device, by the textbook model."""
    t_path = np.arange(0.0, len(next(iter(paths.values()))[0])) * 0.1
    anchors = layout.beacon_xy
    parts = []
    for device, (xy, heading, _) in paths.items():
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
    paths: dict[str, Track],
    locator: str,
    seed: int,
    **params: Any,
) -> tuple[dict[str, FloatArray], float]:
    """Per device kind ("still", "walk"), the error of every fix after the first minute
    (a standing device's only while it stands); ``params`` of the locator."""
    loc = make_locator(locator, layout, seed=seed, **params)
    found: dict[str, list[float]] = {"still": [], "walk": []}
    started = time.perf_counter()
    for t_s, rows in epochs(batch):
        loc.observe(rows)
        fix = loc.estimate(t_s)
        if t_s < 60.0:
            continue
        k = int(round(t_s / 0.1))
        for device, xy in zip(fix.device_id, fix.xy_m, strict=True):
            true_xy, _, moving = paths[str(device)]
            i = min(k, len(true_xy) - 1)
            kind = str(device).split("-")[0]
            if kind == "walk" or not moving[i]:
                found[kind].append(float(np.hypot(*(xy - true_xy[i]))))
    return {kind: np.asarray(e) for kind, e in found.items()}, time.perf_counter() - started


def cell(e: dict[str, FloatArray], kind: str, q: float) -> str:
    """A table cell: the ``q`` percentile of the errors of ``kind``, "-" if there are none."""
    return f"{np.percentile(e[kind], q):9.2f}" if len(e[kind]) else f"{'-':>9}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="of the crowd variants")
    ap.add_argument("--anchors", type=int, default=15, help="10-24 anchors")
    ap.add_argument("--seed", type=int, default=1)
    names = [v.name for v in VARIANTS]
    ap.add_argument(
        "--variants",
        nargs="+",
        choices=names,
        default=names,
        metavar="V",
        help=f"some of: {' '.join(names)} (default: all)",
    )
    ap.add_argument(
        "--locators",
        nargs="+",
        choices=(*LOCATORS, NO_MAP),
        default=LOCATORS,
        metavar="L",
        help=f"some of: {' '.join(LOCATORS)} {NO_MAP} (the tracker "
        f"without its learned radio map); default: {' '.join(LOCATORS)}",
    )
    args = ap.parse_args(argv)
    layout = room(args.anchors)
    head = (
        f"{'variant':14} {'locator':14} {'still med':>9} {'still p90':>9} "
        f"{'walk med':>9} {'walk p90':>9} {'s':>5}"
    )
    print(head)
    print("-" * len(head))
    for variant in (v for v in VARIANTS if v.name in args.variants):
        rng = np.random.default_rng(args.seed)
        minutes = args.minutes if variant.minutes is None else variant.minutes
        paths = scene(variant, minutes * 60.0, rng)
        batch = observe(layout, paths, variant, rng)
        for locator in args.locators:
            params: dict[str, Any] = {"learn_radio_map": False} if locator == NO_MAP else {}
            name = "tracker" if locator == NO_MAP else locator
            e, elapsed = errors(layout, batch, paths, name, args.seed, **params)
            print(
                f"{variant.name:14} {locator:14} {cell(e, 'still', 50)} {cell(e, 'still', 90)} "
                f"{cell(e, 'walk', 50)} {cell(e, 'walk', 90)} {elapsed:5.1f}",
                flush=True,
            )
    print(
        f"\n{args.anchors} anchors in a {ROOM_M[0]:g} x {ROOM_M[1]:g} m room; crowd variants: "
        f"{args.minutes:g} min, 4 standing and 3 walking devices; errors after the first "
        "minute, metres"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
