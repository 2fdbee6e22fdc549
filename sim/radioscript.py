"""Radio scripts from a simulated day: what a person's phone would hear, as the fake radio
plays it (``instore radio-script``; ``instore scan/demo --fake-advertisements``).

A simulated device's observations (phone topology: the phone hears the fixed beacons)
become one advertisement per row, in time order: the payload is the one the layout's
beacon really broadcasts (iBeacon from ``uuid``/``major``/``minor`` and ``tx_power`` as
measured power; else Eddystone-UID from ``eddystone_namespace``/``eddystone_instance``
with ``tx_power + 41`` dB as the 0 m power), the RSSI is the simulator's, rounded to a
whole dBm as a radio reports it. The waits (``dt_s``) are the simulated time between rows,
so the script plays the visit at its own pace.

Visits are picked from the simulator's ground truth: complete visits of visible shoppers
with at least ``min_dwells`` dwells, shortest first (a demo should not drag); several people
are picked among visits that overlap in time, and their scripts share one start, so played
together they are in the store at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from beacons.eddystone import LOSS_AT_1M_DB, EddystoneUid
from beacons.frames import BeaconFrame, encode_payload
from beacons.ibeacon import IBeacon
from positioning.layout import Beacon, Layout
from sim.errors import SimError
from sim.obslog import read_observation_log
from sim.runfolder import find_table

__all__ = [
    "AROUND_VISIT_S",
    "PickedVisit",
    "RadioScriptError",
    "beacon_frame",
    "complete_visits",
    "pick_visits",
    "script_lines",
]

#: Readings kept before a visit's entry and after its exit (seconds): the phone is heard
#: on the street walking up and away, as a real one is, and the engine needs both to
#: tell a visit from a passer-by.
AROUND_VISIT_S = 30.0


class RadioScriptError(SimError):
    """A radio script cannot be made: no suitable visit, or a beacon without identity."""


@dataclass(frozen=True, slots=True)
class PickedVisit:
    """A simulated visit to script: the device, its true entry and exit, its dwells."""

    device_id: str
    enter_s: float
    exit_s: float
    dwells: tuple[tuple[str, float], ...]  # (zone, seconds)

    def describe(self) -> str:
        stops = ", ".join(f"{zone} {s:.0f} s" for zone, s in self.dwells) or "no stop"
        return f"device {self.device_id}: in the store {self.exit_s - self.enter_s:.0f} s, {stops}"


def beacon_frame(beacon: Beacon) -> BeaconFrame:
    """The frame ``beacon`` broadcasts, from its layout identity (iBeacon first)."""
    power = round(beacon.tx_power_dbm)
    if beacon.uuid is not None:
        return IBeacon(beacon.uuid, beacon.major or 0, beacon.minor or 0, power)
    if beacon.eddystone_namespace is not None and beacon.eddystone_instance is not None:
        return EddystoneUid(
            beacon.eddystone_namespace, beacon.eddystone_instance, power + LOSS_AT_1M_DB
        )
    raise RadioScriptError(
        f"beacon {beacon.id!r}: the layout gives it no uuid or eddystone_namespace/instance, "
        "so there is no payload to script"
    )


def _table(sim_dir: Path, name: str) -> list[dict[str, object]]:
    path = find_table(sim_dir, name)
    if path is None or path.suffix != ".parquet":
        raise RadioScriptError(
            f"{sim_dir}: no {name}.parquet (is it an `instore simulate` folder?)"
        )
    return pq.read_table(path).to_pylist()


def complete_visits(sim_dir: Path, min_dwells: int = 0) -> list[PickedVisit]:
    """Complete visits of visible shoppers with ``min_dwells`` dwells or more, shortest first."""
    dwells: dict[str, list[tuple[str, float, float]]] = {}
    for d in _table(sim_dir, "dwells"):
        dwells.setdefault(str(d["device_id"]), []).append(
            (str(d["zone"]), float(d["start_t"]), float(d["end_t"]))  # type: ignore[arg-type]
        )
    candidates = []
    for v in _table(sim_dir, "visits"):
        enter, leave = v["enter_t"], v["exit_t"]
        if v["kind"] != "shopper" or not v["visible"] or enter is None or leave is None:
            continue
        enter_s, exit_s = float(enter), float(leave)  # type: ignore[arg-type]
        if not (np.isfinite(enter_s) and np.isfinite(exit_s)):
            continue  # still inside when the simulation ended
        stops = tuple(
            (zone, end - start)
            for zone, start, end in dwells.get(str(v["device_id"]), [])
            if enter_s <= start <= exit_s
        )
        if len(stops) >= min_dwells:
            candidates.append(PickedVisit(str(v["device_id"]), enter_s, exit_s, stops))
    candidates.sort(key=lambda c: (c.exit_s - c.enter_s, c.device_id))
    return candidates


def pick_visits(sim_dir: Path, people: int = 1, min_dwells: int = 2) -> list[PickedVisit]:
    """``people`` visits with ``min_dwells`` dwells or more, overlapping in time, the
    shortest first visit that has enough company."""
    candidates = complete_visits(sim_dir, min_dwells)
    for first in candidates:
        group = [first]
        for other in sorted(candidates, key=lambda c: -_overlap_s(first, c)):
            if len(group) == people:
                break
            if other not in group and all(_overlap_s(other, g) > 0 for g in group):
                group.append(other)
        if len(group) == people:
            return group
    raise RadioScriptError(
        f"{sim_dir}: no {people} overlapping complete visit(s) of visible shoppers with "
        f"{min_dwells}+ dwells; simulate more shoppers or a longer day"
    )


def _overlap_s(a: PickedVisit, b: PickedVisit) -> float:
    return min(a.exit_s, b.exit_s) - max(a.enter_s, b.enter_s)


def script_lines(sim_dir: Path, layout: Layout, visits: Sequence[PickedVisit]) -> list[list[str]]:
    """One radio script (JSON lines) per visit; all scripts start at the same instant."""
    payloads = {b.id: encode_payload(beacon_frame(b)).hex().upper() for b in layout.beacons}
    batch = read_observation_log(sim_dir, beacon_ids=set(payloads)).batch
    rows = []
    for visit in visits:
        keep = (
            (batch.device_id == visit.device_id)
            & (batch.t_s >= visit.enter_s - AROUND_VISIT_S)
            & (batch.t_s <= visit.exit_s + AROUND_VISIT_S)
        )
        rows.append(np.flatnonzero(keep))
    if any(len(r) == 0 for r in rows):
        raise RadioScriptError(f"{sim_dir}: a picked device has no observation of the layout")
    start_s = min(float(batch.t_s[r[0]]) for r in rows)
    scripts = []
    for visit, idx in zip(visits, rows, strict=True):
        lines = [f"# instore radio-script from {sim_dir.name}: {visit.describe()}"]
        previous = start_s
        for i in idx:
            t = float(batch.t_s[i])
            rssi = int(round(float(batch.rssi_dbm[i])))
            line = {"dt_s": round(t - previous, 3), "payload": payloads[str(batch.beacon_id[i])]}
            lines.append(json.dumps({**line, "rssi": rssi}))
            previous = t
        scripts.append(lines)
    return scripts
