"""``instore simulate``: a store day of shoppers, passers-by and staff, with ground truth."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from datetime import UTC, datetime

from tqdm import tqdm

from presence.errors import UsageError
from sim.params import ScanParams, SimConfig, apply_setting
from sim.run import FORMATS, simulate

__all__ = ["DEFAULT_START", "parse_duration", "parse_start", "register", "run"]

DEFAULT_START = "2026-11-23T09:00:00Z"
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """Seconds from "30m", "2h", "1h30m", "90s" or "90"."""
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise UsageError(f"--duration: cannot read {text!r}; use e.g. 30m, 2h, 1h30m, 90s")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + s
    if seconds <= 0:
        raise UsageError(f"--duration: must be positive, got {text!r}")
    return seconds


def parse_start(text: str) -> float:
    """Epoch seconds from an RFC 3339 / ISO 8601 time (UTC when no offset is given)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise UsageError(f"--start: not an ISO 8601 time: {text!r}") from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a store day: observations plus ground truth",
        description=(
            "Simulate shoppers (functional and fun personas), passers-by on the street and "
            "staff in a store, and the BLE readings their devices produce. Writes DIR/"
            "observations.parquet (t, device_id, beacon_id, rssi), truth.parquet (5 Hz "
            "trajectories), visits, zone_visits, dwells and meta.json (seed and every "
            "parameter). The same seed gives the same bytes. See docs/simulator.md."
        ),
    )
    p.add_argument("--store", metavar="S", required=True, help="store layout TOML")
    p.add_argument(
        "--shoppers", metavar="N", type=int, required=True, help="shoppers entering during the run"
    )
    p.add_argument(
        "--duration",
        metavar="D",
        default="30m",
        help="simulated time, e.g. 30m, 2h, 12h (default 30m)",
    )
    p.add_argument("--seed", metavar="K", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        required=True,
        help="output directory (replaced if it holds a simulation)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="parquet",
        help="file format of the tables (default parquet)",
    )
    p.add_argument(
        "--topology",
        choices=("phone", "receivers"),
        default="phone",
        help="phone: the phone hears the beacons; receivers: fixed receivers hear the device (default phone)",
    )
    p.add_argument(
        "--visible-share",
        type=float,
        default=0.6,
        metavar="F",
        help="share of shoppers and passers-by whose device is visible (default 0.6)",
    )
    p.add_argument(
        "--start",
        default=DEFAULT_START,
        metavar="TIME",
        help=f"simulated start time, UTC (default {DEFAULT_START})",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GROUP.NAME=VALUE",
        help="override a model parameter, e.g. radio.shadowing_sigma_db=6 or crowd.checkout_servers=3 (repeatable; see docs/simulator.md)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.shoppers < 0:
        raise UsageError(f"--shoppers: must be >= 0, got {args.shoppers}")
    if not 0.0 <= args.visible_share <= 1.0:
        raise UsageError(f"--visible-share: must be within 0..1, got {args.visible_share}")
    duration = parse_duration(args.duration)
    base = SimConfig(
        shoppers=args.shoppers, duration_s=duration, start_s=parse_start(args.start), seed=args.seed
    )
    config = dataclasses.replace(
        base,
        scan=ScanParams(topology=args.topology),
        crowd=dataclasses.replace(base.crowd, visible_share=args.visible_share),
    )
    for setting in args.set:
        config = apply_setting(config, setting)
    began = time.perf_counter()
    with tqdm(
        total=duration,
        unit="s",
        desc="simulating",
        disable=args.quiet or None,
        file=sys.stderr,
        unit_scale=True,
    ) as bar:
        result = simulate(args.store, config, args.output, args.format, progress=bar.update)
    if not args.quiet:
        took = time.perf_counter() - began
        print(
            f"wrote {result.out_dir}: {result.observations:,} observations, {result.truth_rows:,} truth rows, "
            f"{result.agents} people in {took:.1f} s ({result.observations / max(took, 1e-9):,.0f} obs/s)"
        )
    return 0
