"""Which devices the seeded CRM links: a simulation's visible shoppers, or a pattern.

A simulation directory (``instore simulate -o DIR``) holds ``visits.parquet`` (or
``.csv``) with ``device_id``, ``kind`` and ``visible``, and ``meta.json`` with the
store name and start time. Visible shoppers carry the app; a share of them is
logged in, i.e. linked to a customer. Staff devices are registered as staff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from presence.errors import UsageError
from sim.runfolder import find_table, read_frame

__all__ = [
    "CHECKOUT_ZONE",
    "DEFAULT_LINK_SHARE",
    "devices_from_pattern",
    "devices_from_simdir",
    "SimDevices",
]

#: Share of app users (visible shoppers) logged in to their loyalty account.
DEFAULT_LINK_SHARE = 0.8
#: The zone where a visit's purchase happens (the reference stores all have one).
CHECKOUT_ZONE = "checkout"
_NEEDED = ("device_id", "kind", "visible")


@dataclass(frozen=True, slots=True)
class SimDevices:
    shoppers: tuple[str, ...]  # linked to customers
    staff: tuple[str, ...]
    start_s: float | None  # the simulation's start: seeded history ends before it
    store: str | None
    checkouts: tuple[tuple[str, float], ...] = ()  # (linked device, time it left the checkout)


def devices_from_simdir(simdir: Path, link_share: float, seed: int) -> SimDevices:
    """A deterministic share of the visible shoppers of ``simdir``, and its staff."""
    if not 0.0 <= link_share <= 1.0:
        raise UsageError(f"--link-share must be within 0..1, got {link_share}")
    visits = _read_visits(simdir)
    kind = visits["kind"].astype(str)
    visible = visits["visible"].astype(bool)
    shoppers = sorted(set(visits.loc[(kind == "shopper") & visible, "device_id"].astype(str)))
    staff = tuple(sorted(set(visits.loc[kind == "staff", "device_id"].astype(str))))
    rng = np.random.default_rng(seed)
    take = rng.random(len(shoppers)) < link_share
    meta = _read_meta(simdir)
    start = meta.get("start_s")
    store_meta = meta.get("store")
    store = store_meta.get("name") if isinstance(store_meta, dict) else None
    linked = tuple(d for d, keep in zip(shoppers, take, strict=True) if keep)
    return SimDevices(
        shoppers=linked,
        staff=staff,
        start_s=float(start) if isinstance(start, int | float) else None,
        store=store if isinstance(store, str) else None,
        checkouts=_checkouts(simdir, set(linked)),
    )


def _checkouts(simdir: Path, devices: set[str]) -> tuple[tuple[str, float], ...]:
    """In-store purchases during the simulated visits: one per checkout visit."""
    path = simdir / "zone_visits.parquet"
    if not path.exists():
        return ()
    zv = pd.read_parquet(path, columns=["device_id", "zone", "exit_t"])
    zv = zv[(zv["zone"] == CHECKOUT_ZONE) & zv["device_id"].isin(devices) & zv["exit_t"].notna()]
    return tuple((str(d), float(t)) for d, t in zip(zv["device_id"], zv["exit_t"], strict=True))


def devices_from_pattern(pattern: str, count: int) -> tuple[str, ...]:
    """``pattern.format(i=i)`` for i in 0..count-1, e.g. ``phone-{i:04d}``."""
    if count < 0:
        raise UsageError(f"device count must be >= 0, got {count}")
    try:
        ids = tuple(pattern.format(i=i) for i in range(count))
    except (KeyError, IndexError, ValueError) as e:
        raise UsageError(
            f"device pattern {pattern!r}: use {{i}}, e.g. phone-{{i:04d}} ({e})"
        ) from e
    if count > 1 and len(set(ids)) != count:
        raise UsageError(f"device pattern {pattern!r} gives the same id twice; put {{i}} in it")
    return ids


def _read_visits(simdir: Path) -> pd.DataFrame:
    path = find_table(simdir, "visits")
    if path is None:
        raise UsageError(
            f"--devices-from {simdir}: no visits.parquet or visits.csv (a simulation directory?)"
        )
    frame = read_frame(path, strings=("device_id", "kind"))
    if path.suffix == ".csv" and "visible" in frame.columns:
        frame["visible"] = frame["visible"].astype(str).str.lower().isin(("true", "1"))
    missing = [c for c in _NEEDED if c not in frame.columns]
    if missing:
        raise UsageError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _read_meta(simdir: Path) -> dict[str, object]:
    path = simdir / "meta.json"
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not JSON ({e})") from e
    return meta if isinstance(meta, dict) else {}
