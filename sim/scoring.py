"""Scoring a locate run against the simulator's ground truth (``instore evaluate``, the
accuracy harness).

Definitions are in :mod:`positioning.metrics` and docs/presence-detection.md. Only
devices visible to the radio (``visible`` in the truth) are scored: the others
never produced an observation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from positioning.events import (
    DWELL_END,
    DWELL_START,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_ENTER,
    EventFormatError,
    PresenceEvent,
)
from positioning.layout import Layout, load_layout
from positioning.metrics import CrbRadio, Detected, Intervals, Truth, evaluate
from sim.errors import RunFolderError
from sim.runfolder import find_table, read_frame

__all__ = [
    "detected",
    "evaluate_dirs",
    "json_safe",
    "load_run",
    "load_truth",
    "radio_model",
    "read_events",
]


def evaluate_dirs(truth_dir: Path, run_dir: Path, store: str | None = None) -> dict[str, Any]:
    layout = load_layout(store or _store_path(truth_dir, run_dir))
    truth = load_truth(truth_dir)
    found, bad_lines = load_run(run_dir)
    report = evaluate(truth, found, layout, radio_model(truth_dir, layout))
    report["malformed_event_lines"] = bad_lines
    return {"truth": str(truth_dir), "run": str(run_dir), "store": layout.name, **report}


def json_safe(value: Any) -> Any:
    """The report with numpy scalars as Python numbers and NaN/inf as null (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _store_path(truth_dir: Path, run_dir: Path) -> str:
    for meta_path, keys in (
        (run_dir / "meta.json", ("store_path",)),
        (truth_dir / "meta.json", ("store",)),
    ):
        meta = _read_json(meta_path)
        for key in keys:
            value = meta.get(key)
            if isinstance(value, dict):
                value = value.get("file")
            if isinstance(value, str) and Path(value).exists():
                return value
    raise RunFolderError(
        f"{run_dir}/meta.json and {truth_dir}/meta.json name no readable store layout: give --store"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as e:
        raise RunFolderError(f"{path}: not readable JSON: {e}") from e
    return meta if isinstance(meta, dict) else {}


def _table(directory: Path, name: str) -> pd.DataFrame:
    path = find_table(directory, name)
    if path is None:
        raise RunFolderError(
            f"{directory}: no {name}.parquet or {name}.csv (is it an instore simulate directory?)"
        )
    return read_frame(path)


def _need(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunFolderError(f"{what}: missing column(s) {', '.join(missing)}")


def _intervals(frame: pd.DataFrame, start: str, end: str) -> Intervals:
    return Intervals.of(
        frame["device_id"].astype(str).to_numpy(),
        frame[start].to_numpy(float),
        frame[end].to_numpy(float),
    )


def load_truth(directory: Path) -> Truth:
    samples = _table(directory, "truth")
    visits = _table(directory, "visits")
    zone_visits = _table(directory, "zone_visits")
    dwells = _table(directory, "dwells")
    _need(samples, ("t", "device_id", "x", "y"), f"{directory}/truth")
    _need(visits, ("device_id", "kind", "enter_t", "exit_t"), f"{directory}/visits")
    if "visible" in visits.columns:
        visits = visits[visits["visible"].astype(bool)]
    visible = set(visits["device_id"].astype(str))
    samples = samples[samples["device_id"].astype(str).isin(visible)]
    zone_visits = zone_visits[zone_visits["device_id"].astype(str).isin(visible)]
    dwells = dwells[dwells["device_id"].astype(str).isin(visible)]
    return Truth(
        samples["t"].to_numpy(float),
        samples["device_id"].astype(str).to_numpy(),
        samples[["x", "y"]].to_numpy(float),
        _intervals(visits, "enter_t", "exit_t"),
        visits["kind"].astype(str).to_numpy(),
        _intervals(zone_visits, "enter_t", "exit_t"),
        _intervals(dwells, "start_t", "end_t"),
        dwells["zone"].fillna("").astype(str).to_numpy(),
    )


def load_run(directory: Path) -> tuple[Detected, int]:
    """The run's positions and its events rebuilt into intervals; and malformed event lines."""
    path = directory / "positions.csv"
    if not path.exists():
        raise RunFolderError(f"{directory}: no positions.csv (is it an instore locate directory?)")
    pos = pd.read_csv(path, dtype={"device_id": str, "zone": str}, keep_default_na=False)
    _need(pos, ("t", "device_id", "x", "y", "zone"), str(path))
    events, bad = read_events(directory / "events.jsonl")
    found = detected(
        pos["t"].to_numpy(float),
        pos["device_id"].astype(str).to_numpy(),
        pos[["x", "y"]].to_numpy(float),
        pos["zone"].astype(str).to_numpy(),
        events,
    )
    return found, bad


def detected(
    t_s: np.ndarray,
    device_id: np.ndarray,
    xy_m: np.ndarray,
    zone: np.ndarray,
    events: list[PresenceEvent],
) -> Detected:
    """Positions and events (in emission order) as the intervals the metrics compare."""
    visits, enter_det, exit_det = _visits(events)
    dwell_rows = [
        (e.device_id, e.time_s - (e.duration_s or 0.0), e.time_s)
        for e in events
        if e.type == DWELL_END
    ]
    dwell_rows += [(d, t, math.nan) for d, t in _open_starts(events, DWELL_START, DWELL_END)]
    return Detected(
        t_s,
        device_id,
        xy_m,
        zone,
        visits,
        enter_det,
        exit_det,
        sum(e.type == ZONE_ENTER for e in events),
        Intervals.of(*zip(*dwell_rows, strict=True)) if dwell_rows else Intervals.of([], [], []),
    )


def read_events(path: Path) -> tuple[list[PresenceEvent], int]:
    """Events of a JSONL file; lines that are not valid presence events are counted."""
    events: list[PresenceEvent] = []
    bad = 0
    if not path.exists():
        raise RunFolderError(f"{path}: no such file")
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                events.append(PresenceEvent.from_cloudevent(json.loads(line)))
            except (json.JSONDecodeError, EventFormatError):
                bad += 1
    return events, bad


def _visits(events: list[PresenceEvent]) -> tuple[Intervals, np.ndarray, np.ndarray]:
    rows: list[tuple[str, float, float, float, float]] = []
    open_: dict[str, PresenceEvent] = {}
    for e in events:
        if e.type == STORE_ENTER:
            open_[e.device_id] = e
        elif e.type == STORE_EXIT and e.device_id in open_:
            enter = open_.pop(e.device_id)
            rows.append((e.device_id, enter.time_s, e.time_s, enter.detected_at_s, e.detected_at_s))
    rows += [(d, e.time_s, math.nan, e.detected_at_s, math.nan) for d, e in open_.items()]
    if not rows:
        return Intervals.of([], [], []), np.empty(0), np.empty(0)
    dev, start, end, det_in, det_out = zip(*rows, strict=True)
    return Intervals.of(dev, start, end), np.asarray(det_in), np.asarray(det_out)


def _open_starts(events: list[PresenceEvent], start: str, end: str) -> list[tuple[str, float]]:
    open_: dict[str, float] = {}
    for e in events:
        if e.type == start:
            open_[e.device_id] = e.time_s
        elif e.type == end:
            open_.pop(e.device_id, None)
    return sorted(open_.items())


def radio_model(truth_dir: Path, layout: Layout) -> CrbRadio | None:
    """The simulation's true radio (meta.json parameters.radio), for the Cramer-Rao bound."""
    radio = _read_json(truth_dir / "meta.json").get("parameters", {}).get("radio")
    if not isinstance(radio, dict):
        return None
    try:
        exponent = radio.get("path_loss_exponent") or layout.path_loss_exponent
        height = float(radio.get("beacon_height_m", 0.0)) - float(radio.get("device_height_m", 0.0))
        return CrbRadio(float(exponent), float(radio["shadowing_sigma_db"]), abs(height))
    except (KeyError, TypeError, ValueError):
        return None
