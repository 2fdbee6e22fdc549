"""``instore plot``: the floor plan, with sample simulated trajectories, as a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.lines import Line2D

from analytics.floorplan import draw_floorplan
from positioning.layout import load_layout
from positioning.walkable import DEFAULT_STREET_DEPTH_M
from presence.errors import UsageError
from sim.runfolder import find_table, read_frame

__all__ = ["KIND_COLOURS", "register", "run", "SHOPPER_COLOURS", "STAFF_SHOWN_S"]

#: Line colour by kind of person; each shopper gets its own from SHOPPER_COLOURS.
KIND_COLOURS = {"shopper": "#d81b60", "passerby": "#fb8c00", "staff": "#00897b"}
SHOPPER_COLOURS = (
    "#d81b60",
    "#5e35b1",
    "#1e88e5",
    "#c62828",
    "#6d4c41",
    "#8e24aa",
    "#3949ab",
    "#ad1457",
)
#: Staff walk all day: draw only their first minutes, or they cover the plan.
STAFF_SHOWN_S = 900.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "plot",
        help="draw the floor plan (and simulated trajectories) to a PNG",
        description=(
            "Draw the store's floor plan (outline, entrance, zones, shelves and other "
            "obstacles, beacons) to a PNG. With --truth SIMDIR (an `instore simulate` "
            "output) it also draws sample ground-truth trajectories: shoppers, passers-by "
            "on the street and staff, with their dwells as dots."
        ),
    )
    p.add_argument("--store", metavar="S", required=True, help="store layout TOML")
    p.add_argument("--truth", metavar="SIMDIR", help="simulation directory with truth and dwells")
    p.add_argument("-o", "--output", metavar="PNG", required=True, help="picture to write")
    p.add_argument(
        "--shoppers", type=int, default=6, metavar="N", help="shoppers to draw (default 6)"
    )
    p.add_argument(
        "--passersby", type=int, default=3, metavar="N", help="passers-by to draw (default 3)"
    )
    p.add_argument("--staff", type=int, default=1, metavar="N", help="staff to draw (default 1)")
    p.add_argument("--seed", type=int, default=0, help="which people are picked (default 0)")
    p.set_defaults(func=run)


def _table(simdir: Path, name: str) -> pd.DataFrame:
    path = find_table(simdir, name)
    if path is None:
        raise UsageError(f"--truth: {simdir} holds no {name}.parquet or {name}.csv")
    return read_frame(path)


def _pick(visits: pd.DataFrame, counts: dict[str, int], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for kind, n in counts.items():
        rows = visits[visits["kind"] == kind]
        if kind == "shopper":
            rows = rows[rows["enter_t"].notna() & rows["exit_t"].notna()]
        ids = sorted(rows["device_id"].astype(str))
        chosen += [
            ids[i] for i in sorted(rng.choice(len(ids), size=min(n, len(ids)), replace=False))
        ]
    return chosen


def run(args: argparse.Namespace) -> int:
    matplotlib.use(
        "Agg"
    )  # files only; set here so importing the CLI never changes a notebook's backend
    layout = load_layout(args.store)
    fig, ax = plt.subplots(figsize=(11, 8), dpi=120)
    draw_floorplan(ax, layout, street_depth_m=DEFAULT_STREET_DEPTH_M)
    title = f"{layout.name}: floor plan"
    if args.truth:
        simdir = Path(args.truth)
        if not simdir.is_dir():
            raise UsageError(f"--truth: {simdir} is not a directory")
        visits = _table(simdir, "visits")
        picked = _pick(
            visits,
            {"shopper": args.shoppers, "passerby": args.passersby, "staff": args.staff},
            args.seed,
        )
        truth = _table(simdir, "truth")
        dwells = _table(simdir, "dwells")
        _draw_people(ax, truth[truth["device_id"].astype(str).isin(picked)], dwells, picked)
        title = f"{layout.name}: {len(picked)} sample people from {simdir.name}"
    ax.set_title(title)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {out}")
    return 0


def _draw_people(
    ax: plt.Axes, truth: pd.DataFrame, dwells: pd.DataFrame, picked: list[str]
) -> None:
    kind_of = dict(zip(truth["device_id"].astype(str), truth["kind"].astype(str), strict=False))
    for i, device in enumerate(picked):
        rows = truth[truth["device_id"].astype(str) == device].sort_values("t")
        kind = kind_of.get(device, "shopper")
        colour = (
            SHOPPER_COLOURS[i % len(SHOPPER_COLOURS)] if kind == "shopper" else KIND_COLOURS[kind]
        )
        if kind == "staff" and len(rows):
            rows = rows[rows["t"] < rows["t"].iloc[0] + STAFF_SHOWN_S]
        ax.plot(rows["x"], rows["y"], color=colour, lw=1.0, alpha=0.85, zorder=8)
        if len(rows):
            ax.plot(rows["x"].iloc[0], rows["y"].iloc[0], "o", ms=3, color=colour, zorder=9)
        mine = dwells[
            (dwells["device_id"].astype(str) == device) & (dwells["start_t"] <= rows["t"].max())
        ]
        if len(mine):
            at = rows.set_index("t")[["x", "y"]]
            mid = (mine["start_t"] + mine["end_t"]) / 2
            idx = np.clip(np.searchsorted(at.index.to_numpy(), mid.to_numpy()), 0, len(at) - 1)
            size = np.sqrt((mine["end_t"] - mine["start_t"]).to_numpy()) * 3
            ax.scatter(
                at["x"].to_numpy()[idx],
                at["y"].to_numpy()[idx],
                s=size,
                color=colour,
                alpha=0.5,
                edgecolor="black",
                lw=0.4,
                zorder=9,
            )
    labels = {
        "shopper": "shoppers (one colour each)",
        "passerby": "passers-by",
        "staff": f"staff (first {STAFF_SHOWN_S / 60:.0f} min)",
    }
    handles = [Line2D([], [], color=c, lw=1.5, label=labels[k]) for k, c in KIND_COLOURS.items()]
    handles.append(
        Line2D([], [], marker="o", ls="", color="grey", alpha=0.5, label="dwell (size ~ duration)")
    )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )
