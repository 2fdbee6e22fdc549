"""``instore calibrate``: measure a beacon's 1 m power, or fit the store's radio from a walk.

The layout file is edited in place, line by line, so its comments and formatting stay;
the previous version is kept next to it as ``<file>.bak-<UTC time>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import time
import tomllib
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from beacons.observation import Observation
from positioning.calibration import OneMetrePower, fit_walk, one_metre_power
from positioning.errors import LayoutError
from positioning.layout import Layout, load_layout, parse_layout
from presence.commands._walk import plot_walk, print_walk, read_walk, walk_json
from presence.commands.scan import add_scanner_arguments, scanner_options
from presence.errors import UsageError
from presence.services.scanning import consume, make_source

__all__ = [
    "EPILOG",
    "register",
    "run",
    "set_beacon_tx_power",
    "set_path_loss_exponent",
    "write_layout",
]

EPILOG = """examples:
  instore calibrate --store S --beacon b07 --distance 1.0 --seconds 30
      hold the phone/laptop 1 m from beacon b07, in line of sight, and keep still
  instore calibrate --store S --walk walk.csv            # fit and report, file untouched
  instore calibrate --store S --walk walk.csv --write    # also write the fit into S

A walk CSV has columns x, y, beacon_id, rssi (metres, dBm): readings taken while
standing at known points (see docs/beacons.md, "Calibrating")."""

_BEACONS_HEADER = re.compile(r"^\s*\[\[\s*beacons\s*\]\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_KEY_LINE = r"^(\s*{key}\s*=\s*)([^#\n]*?)(\s*(#.*)?)$"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="measure a beacon's 1 m power, or fit path-loss exponent and offsets from a walk",
        description="Calibrate the radio model of a layout and write it into the layout file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scanner_arguments(p)
    p.add_argument("--beacon", help="layout id of the beacon to measure")
    p.add_argument("--distance", type=float, default=1.0, help="metres from the beacon (default 1)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long to measure (default 30)")
    p.add_argument(
        "--walk", metavar="CSV", help="fit the whole store from recordings at known points"
    )
    p.add_argument(
        "--write", action="store_true", help="with --walk: write the fit into the layout"
    )
    p.add_argument("--plot", metavar="PNG", help="with --walk: draw RSSI vs distance and residuals")
    p.add_argument("--dry-run", action="store_true", help="with --beacon: measure, change nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    layout = load_layout(args.store)
    if args.walk:
        return _run_walk(args, layout)
    if not args.beacon:
        raise UsageError("give --beacon ID (measure one beacon) or --walk CSV (fit the store)")
    if args.beacon not in layout.beacon_index:
        raise UsageError(
            f"beacon {args.beacon!r} is not in {args.store} ({', '.join(layout.beacon_ids)})"
        )
    if not args.distance > 0 or not args.seconds > 0:
        raise UsageError("--distance and --seconds must be positive")
    samples = _measure(args, layout)
    result = one_metre_power(samples, args.distance, layout.path_loss_exponent)
    declared = layout.beacons[layout.beacon_index[args.beacon]].tx_power_dbm
    _report_one(args, result, declared)
    if not args.dry_run:
        text = Path(args.store).read_text(encoding="utf-8")
        new = set_beacon_tx_power(text, args.beacon, round(result.power_dbm, 1), args.store)
        backup = write_layout(Path(args.store), new)
        print(
            f"wrote tx_power = {result.power_dbm:.1f} for {args.beacon}; backup {backup}",
            file=sys.stderr,
        )
    return 0


def _measure(args: argparse.Namespace, layout: Layout) -> list[float]:
    samples: list[float] = []

    def sink(obs: Observation) -> None:
        if obs.beacon_id == args.beacon:
            samples.append(obs.rssi_dbm)

    source = make_source(scanner_options(args), layout)

    async def measure(progress: Progress) -> None:
        task = progress.add_task(
            f"measuring {args.beacon} at {args.distance:g} m", total=args.seconds
        )
        start = time.monotonic()

        async def tick() -> None:
            while True:
                progress.update(
                    task, completed=time.monotonic() - start, description=f"{len(samples)} samples"
                )
                await asyncio.sleep(0.25)

        ticker = asyncio.create_task(tick())
        try:
            await consume(source, sink, args.seconds)
        finally:
            ticker.cancel()
            progress.update(task, completed=args.seconds)

    with Progress(console=Console(stderr=True), transient=True) as progress:
        asyncio.run(measure(progress))
    return samples


def _report_one(args: argparse.Namespace, r: OneMetrePower, declared: float) -> None:
    doc = {
        "beacon": args.beacon,
        "distance_m": args.distance,
        "samples": r.n_samples,
        "median_rssi_dbm": round(r.median_rssi_dbm, 2),
        "spread_db": round(r.spread_db, 2),
        "power_1m_dbm": round(r.power_dbm, 2),
        "stderr_db": round(r.stderr_db, 2),
        "declared_tx_power_dbm": declared,
    }
    if args.json:
        print(json.dumps(doc))
        return
    print(
        f"{args.beacon}: 1 m power {r.power_dbm:.1f} dBm ± {r.stderr_db:.1f} (declared {declared:g}); "
        f"{r.n_samples} samples, median {r.median_rssi_dbm:.1f} dBm at {args.distance:g} m, "
        f"spread {r.spread_db:.1f} dB"
    )


# --- walk calibration ------------------------------------------------------------------


def _run_walk(args: argparse.Namespace, layout: Layout) -> int:
    xy, bi, rssi, skipped = read_walk(Path(args.walk), layout)
    fit = fit_walk(xy, bi, rssi, layout.beacon_xy, layout.tx_power_dbm, layout.beacon_ids)
    if args.json:
        print(json.dumps(walk_json(fit, skipped)))
    else:
        print_walk(fit, skipped, layout)
    if args.plot:
        plot_walk(Path(args.plot), fit, layout, xy, bi, rssi)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.write:
        text = Path(args.store).read_text(encoding="utf-8")
        for b in fit.beacons:
            if b.n_rows:
                text = set_beacon_tx_power(text, b.beacon_id, round(b.power_1m_dbm, 1), args.store)
        text = set_path_loss_exponent(text, round(fit.exponent, 2))
        backup = write_layout(Path(args.store), text)
        print(f"wrote the fit into {args.store}; backup {backup}", file=sys.stderr)
    return 0


# --- editing the layout in place ------------------------------------------------------------


def set_beacon_tx_power(text: str, beacon_id: str, value: float, source: str = "<layout>") -> str:
    """The layout text with ``tx_power`` of ``beacon_id`` replaced; everything else kept."""
    lines = text.splitlines(keepends=True)
    in_beacon, matched, done = False, False, False
    tx_line: int | None = None
    for i, line in enumerate(lines + ["[end]\n"]):
        if _ANY_HEADER.match(line):
            if in_beacon and matched and tx_line is not None:
                lines[tx_line] = (
                    re.sub(
                        _KEY_LINE.format(key="tx_power"),
                        rf"\g<1>{value:g}\g<3>",
                        lines[tx_line].rstrip("\n"),
                    )
                    + "\n"
                )
                done = True
                break
            in_beacon, matched, tx_line = bool(_BEACONS_HEADER.match(line)), False, None
            continue
        if not in_beacon:
            continue
        m = re.match(_KEY_LINE.format(key="id"), line.rstrip("\n"))
        if m and str(tomllib.loads(f"v = {m.group(2)}")["v"]) == beacon_id:
            matched = True
        if re.match(_KEY_LINE.format(key="tx_power"), line.rstrip("\n")):
            tx_line = i
    if not done:
        raise LayoutError(
            source, "beacons", f"no [[beacons]] entry with id {beacon_id!r} and a tx_power line"
        )
    return _checked("".join(lines), source)


def set_path_loss_exponent(text: str, value: float, source: str = "<layout>") -> str:
    """The layout text with ``[radio] path_loss_exponent`` set (the table is added if missing)."""
    lines = text.splitlines(keepends=True)
    in_radio = False
    for i, line in enumerate(lines):
        if _ANY_HEADER.match(line):
            in_radio = bool(re.match(r"^\s*\[\s*radio\s*\]", line))
            continue
        if in_radio and re.match(_KEY_LINE.format(key="path_loss_exponent"), line.rstrip("\n")):
            lines[i] = (
                re.sub(
                    _KEY_LINE.format(key="path_loss_exponent"),
                    rf"\g<1>{value:g}\g<3>",
                    line.rstrip("\n"),
                )
                + "\n"
            )
            return _checked("".join(lines), source)
    radio = [i for i, line in enumerate(lines) if re.match(r"^\s*\[\s*radio\s*\]", line)]
    if radio:
        lines.insert(radio[0] + 1, f"path_loss_exponent = {value:g}\n")
    else:
        first = next((i for i, line in enumerate(lines) if _BEACONS_HEADER.match(line)), len(lines))
        lines[first:first] = ["[radio]\n", f"path_loss_exponent = {value:g}\n", "\n"]
    return _checked("".join(lines), source)


def _checked(text: str, source: str) -> str:
    """Refuse to write a layout that no longer loads."""
    try:
        parse_layout(tomllib.loads(text), source=source)
    except tomllib.TOMLDecodeError as e:
        raise LayoutError(source, "-", f"editing would produce invalid TOML: {e}") from e
    return text


def write_layout(path: Path, text: str) -> Path:
    """Replace the layout atomically, keeping the previous file as a timestamped backup."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return backup
