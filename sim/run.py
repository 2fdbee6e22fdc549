"""One simulation run, start to finish: layout -> venue -> people -> radio -> files.

Everything is written into a hidden temporary directory next to the output and
renamed into place at the end, so a failed or interrupted run leaves nothing
half-written (an earlier run's directory stays untouched until the new one is
complete).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from positioning.layout import Layout, load_layout
from positioning.walkable import WalkableGrid
from sim.errors import SimError
from sim.obslog import PARQUET_OPTIONS, ObservationLogWriter
from sim.params import SimConfig, radio_from_layout
from sim.population import Population, build_population
from sim.radio import RadioModel
from sim.stream import TRUTH_SCHEMA, DayStream
from sim.truth import DWELL_MERGE_GAP_S, DWELL_MIN_S, dwells_table, visits_table, zone_visits_table
from sim.venue import Venue

__all__ = ["FORMATS", "SimResult", "WRITE_AHEAD", "World", "build_world", "simulate"]

FORMATS = ("parquet", "csv")
#: Spawn keys of the independent random streams (venue, people, radio).
VENUE_KEY, PEOPLE_KEY, RADIO_KEY = 1, 2, 3
#: Chunks generated ahead of the writer thread (bounds memory to a few chunks).
WRITE_AHEAD = 2


@dataclass(frozen=True, slots=True)
class SimResult:
    out_dir: Path
    observations: int
    truth_rows: int
    agents: int


@dataclass(frozen=True, slots=True)
class World:
    """Everything the run derives from the layout and the seed, before any file is written."""

    layout: Layout
    config: SimConfig
    venue: Venue
    population: Population
    radio: RadioModel


def build_world(layout: Layout, config: SimConfig) -> World:
    config = dataclasses.replace(
        config, radio=radio_from_layout(layout, config.radio), scan=config.scan.resolved()
    )
    config.validate()
    grid = WalkableGrid.from_layout(
        layout, config.grid_resolution_m, config.clearance_m, config.street_depth_m
    )
    seed = config.seed
    venue = Venue.build(
        layout, grid, config.crowd.stops_per_zone, np.random.default_rng([seed, VENUE_KEY])
    )
    population = build_population(venue, config, np.random.SeedSequence([seed, PEOPLE_KEY]))
    ny, nx = grid.free.shape
    x0, y0 = grid.origin_m
    extent = (x0, y0, x0 + nx * grid.resolution_m, y0 + ny * grid.resolution_m)
    radio = RadioModel.build(
        layout, config.radio, config.scan, extent, np.random.default_rng([seed, RADIO_KEY])
    )
    return World(layout, config, venue, population, radio)


def simulate(
    store: str | Path,
    config: SimConfig,
    out_dir: str | Path,
    fmt: str = "parquet",
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """Run the simulation and write the output directory. ``progress`` gets simulated seconds done."""
    if fmt not in FORMATS:
        raise SimError(f"format must be one of {FORMATS}, got {fmt!r}")
    out = Path(out_dir)
    _check_target(out)
    world = build_world(load_layout(store), config)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        result = _write_all(world, tmp, fmt, progress)
        _write_meta(world, Path(store), tmp, fmt, result)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SimResult(out, result.observations, result.truth_rows, result.agents)


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SimError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "meta.json").exists():
        raise SimError(
            f"{out}: directory is not empty and holds no simulation (meta.json); not overwriting it"
        )


def _replace(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


class _TableWriter:
    """Streams tables of one schema to Parquet or CSV."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.parquet = path.suffix == ".parquet"
        self.writer: pq.ParquetWriter | pacsv.CSVWriter
        if self.parquet:
            self.writer = pq.ParquetWriter(path, schema, **PARQUET_OPTIONS)
        else:
            self.writer = pacsv.CSVWriter(
                str(path), schema, write_options=pacsv.WriteOptions(quoting_style="needed")
            )

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()


def _write_table(path: Path, table: pa.Table) -> None:
    w = _TableWriter(path, table.schema)
    w.write(table)
    w.close()


def _write_all(
    world: World, tmp: Path, fmt: str, progress: Callable[[float], None] | None
) -> SimResult:
    cfg = world.config
    stream = DayStream(
        world.population,
        world.radio,
        world.layout,
        cfg.start_s,
        cfg.duration_s,
        cfg.seed,
        cfg.truth_rate_hz,
    )
    n_obs = n_truth = 0
    obs_writer = ObservationLogWriter(tmp / f"observations.{fmt}")
    truth_writer = _TableWriter(tmp / f"truth.{fmt}", TRUTH_SCHEMA)

    def write(obs: pa.Table, truth: pa.Table) -> None:
        obs_writer.write_table(obs)
        truth_writer.write(truth)

    # Parquet encoding releases the GIL: write chunk i on a thread while chunk i+1 is
    # generated. One writer thread keeps the order; at most WRITE_AHEAD chunks wait.
    pending: deque[Future[None]] = deque()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-writer") as pool:
            for c0, c1, obs, truth in stream.chunks():
                pending.append(pool.submit(write, obs, truth))
                while len(pending) > WRITE_AHEAD:
                    pending.popleft().result()
                n_obs += obs.num_rows
                n_truth += truth.num_rows
                if progress is not None:
                    progress(c1 - c0)
            while pending:
                pending.popleft().result()
    finally:
        truth_writer.close()
        obs_writer.close()
    start, end = cfg.start_s, cfg.start_s + cfg.duration_s
    pop = world.population
    _write_table(tmp / f"visits.{fmt}", visits_table(pop, world.venue, start, end))
    _write_table(
        tmp / f"zone_visits.{fmt}",
        zone_visits_table(pop, world.layout, start, end, cfg.truth_rate_hz),
    )
    _write_table(tmp / f"dwells.{fmt}", dwells_table(pop, world.layout, start, end))
    return SimResult(tmp, n_obs, n_truth, pop.trajectories.n_agents)


def _write_meta(world: World, store: Path, tmp: Path, fmt: str, result: SimResult) -> None:
    cfg = world.config
    kinds = [a.kind for a in world.population.agents]
    meta: dict[str, Any] = {
        "generator": "instore simulate",
        "version": _version(),
        "seed": cfg.seed,
        "store": {
            "file": str(store),
            "name": world.layout.name,
            "sha256": hashlib.sha256(store.read_bytes()).hexdigest(),
        },
        "start_s": cfg.start_s,
        "start": datetime.fromtimestamp(cfg.start_s, UTC).isoformat().replace("+00:00", "Z"),
        "duration_s": cfg.duration_s,
        "format": fmt,
        "parameters": dataclasses.asdict(cfg),
        "beacon_true_power_dbm": dict(
            zip(
                world.layout.beacon_ids,
                np.round(world.radio.true_power_dbm, 3).tolist(),
                strict=True,
            )
        ),
        "definitions": {"dwell_min_s": DWELL_MIN_S, "dwell_merge_gap_s": DWELL_MERGE_GAP_S},
        "counts": {
            "agents": result.agents,
            "shoppers": kinds.count("shopper"),
            "passersby": kinds.count("passerby"),
            "staff": kinds.count("staff"),
            "visible_devices": int(world.population.visible.sum()),
            "observations": result.observations,
            "truth_rows": result.truth_rows,
        },
        "files": sorted(p.name for p in tmp.iterdir()) + ["meta.json"],
    }
    (tmp / "meta.json").write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def _version() -> str:
    try:
        return metadata.version("instore")
    except metadata.PackageNotFoundError:
        return "unknown"
