"""The day, chunk by chunk: observations and 5 Hz ground truth as Arrow tables.

Each chunk of simulated time is generated in one vectorised pass over all devices
present x all beacons (no Python loop per reading), with its own random stream
derived from the seed and the chunk number, so memory stays bounded whatever the
day's length and the output does not depend on anything but the seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from positioning.layout import Layout
from positioning.zonemap import ZoneLookup
from sim.obslog import LOG_SCHEMA
from sim.population import Population
from sim.radio import RadioModel

__all__ = [
    "DEFAULT_CHUNK_S",
    "DayStream",
    "FloatArray",
    "IntArray",
    "OBS_STREAM_KEY",
    "ObsRows",
    "TRUTH_SCHEMA",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: Simulated seconds per chunk: a few hundred thousand candidate readings at a busy hour.
DEFAULT_CHUNK_S = 300.0
#: Columns of truth.parquet.
TRUTH_SCHEMA = pa.schema(
    [
        ("t", pa.float64()),
        ("device_id", pa.string()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("heading_rad", pa.float64()),
        ("kind", pa.string()),
        ("zone", pa.string()),
        ("visible", pa.bool_()),
    ]
)
#: Spawn key of the per-chunk random streams (distinct from the population's streams).
OBS_STREAM_KEY = 7


@dataclass(frozen=True, slots=True)
class ObsRows:
    t: FloatArray
    device: IntArray
    beacon: IntArray
    rssi: npt.NDArray[np.int8]

    @classmethod
    def empty(cls) -> ObsRows:
        return cls(np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8))

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> ObsRows:
        return ObsRows(self.t[index], self.device[index], self.beacon[index], self.rssi[index])

    @staticmethod
    def concat(a: ObsRows, b: ObsRows) -> ObsRows:
        return ObsRows(
            np.concatenate([a.t, b.t]),
            np.concatenate([a.device, b.device]),
            np.concatenate([a.beacon, b.beacon]),
            np.concatenate([a.rssi, b.rssi]),
        )


class DayStream:
    """Generates the day's tables chunk by chunk, in time order."""

    def __init__(
        self,
        pop: Population,
        radio: RadioModel,
        layout: Layout,
        start_s: float,
        duration_s: float,
        seed: int,
        truth_rate_hz: float,
        chunk_s: float = DEFAULT_CHUNK_S,
    ) -> None:
        self.pop, self.radio, self.layout = pop, radio, layout
        self.start, self.end = start_s, start_s + duration_s
        self.seed, self.chunk_s = seed, chunk_s
        self.truth_dt = 1.0 / truth_rate_hz
        self.period = radio.scan.report_period_s
        rng = np.random.default_rng(np.random.SeedSequence([seed, OBS_STREAM_KEY]))
        self.phase = rng.random(pop.trajectories.n_agents) * self.period
        self.offset_db = np.asarray([a.device_offset_db for a in pop.agents], dtype=np.float64)
        self.visible = np.flatnonzero(pop.visible)
        self.device_dict = pa.array(pop.device_ids.tolist(), pa.string())
        self.beacon_dict = pa.array(list(layout.beacon_ids), pa.string())
        self.kind_dict = pa.array(["shopper", "passerby", "staff"], pa.string())
        self.kind_code = np.asarray(
            [["shopper", "passerby", "staff"].index(a.kind) for a in pop.agents]
        )
        self.zone_dict = pa.array([z.name for z in layout.zones] + [""], pa.string())
        self.zones = ZoneLookup(layout)
        self.visible_mask = pop.visible

    def bounds(self) -> list[tuple[float, float]]:
        n = max(1, int(np.ceil((self.end - self.start) / self.chunk_s)))
        edges = [self.start + i * self.chunk_s for i in range(n)] + [self.end]
        return list(zip(edges[:-1], edges[1:], strict=True))

    def chunks(self) -> Iterator[tuple[float, float, pa.Table, pa.Table]]:
        """(chunk start, chunk end, observations, truth) in time order."""
        carry = ObsRows.empty()
        bounds = self.bounds()
        for i, (c0, c1) in enumerate(bounds):
            rows = ObsRows.concat(carry, self._observations(i, c0, c1))
            rows = rows.take(np.argsort(rows.t, kind="stable"))
            cut = int(np.searchsorted(rows.t, min(c1, self.end)))
            last = i == len(bounds) - 1
            carry = ObsRows.empty() if last else rows.take(np.arange(cut, len(rows.t)))
            yield c0, c1, self._obs_table(rows.take(np.arange(cut))), self._truth(c0, c1)

    def _windows(self, c0: float, c1: float) -> tuple[IntArray, FloatArray]:
        """(agent, window start) of every report period starting in [c0, c1) while present."""
        tr, p = self.pop.trajectories, self.period
        agents = self.visible
        base = self.start + self.phase[agents]
        lo = np.maximum(c0, tr.start_t[agents])
        hi = np.minimum(c1, tr.end_t[agents] - p)
        k0 = np.ceil((lo - base) / p)
        k1 = np.ceil((hi - base) / p)
        n = np.maximum(k1 - k0, 0).astype(np.int64)
        agent = np.repeat(agents, n)
        first = np.repeat(k0, n)
        within = np.arange(len(agent)) - np.repeat(np.cumsum(n) - n, n)
        return agent.astype(np.int64), base.repeat(n) + (first + within) * p

    def _observations(self, index: int, c0: float, c1: float) -> ObsRows:
        agent, ws = self._windows(c0, c1)
        if len(agent) == 0:
            return ObsRows.empty()
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, OBS_STREAM_KEY, index]))
        tr, p = self.pop.trajectories, self.period
        xy0, heading = tr.sample(agent, ws)
        xy1, _ = tr.sample(agent, ws + p)
        # float32 is ample for metres and sub-second offsets, and halves memory traffic.
        u = rng.random((len(self.radio.true_power_dbm), len(agent)), dtype=np.float32)
        x0, y0 = xy0[:, 0].astype(np.float32), xy0[:, 1].astype(np.float32)
        x = x0 + u * (xy1[:, 0].astype(np.float32) - x0)
        y = y0 + u * (xy1[:, 1].astype(np.float32) - y0)
        mean = self.radio.mean_rssi_dbm(x, y, heading, self.offset_db[agent])
        heard, rssi = self.radio.reports(mean, rng)
        b, m = np.nonzero(heard)
        return ObsRows(
            ws[m] + u[b, m].astype(np.float64) * p, agent[m], b.astype(np.int64), rssi[b, m]
        )

    def _obs_table(self, rows: ObsRows) -> pa.Table:
        device = pa.DictionaryArray.from_arrays(
            pa.array(rows.device.astype(np.int32)), self.device_dict
        )
        beacon = pa.DictionaryArray.from_arrays(
            pa.array(rows.beacon.astype(np.int32)), self.beacon_dict
        )
        return pa.table(
            [
                pa.array(rows.t),
                device.cast(pa.string()),
                beacon.cast(pa.string()),
                pa.array(rows.rssi.astype(np.float64)),
            ],
            schema=LOG_SCHEMA,
        )

    def _truth(self, c0: float, c1: float) -> pa.Table:
        tr, dt = self.pop.trajectories, self.truth_dt
        k_lo = np.ceil((np.maximum(c0, tr.start_t) - self.start) / dt - 1e-9)
        k_hi = np.ceil((np.minimum(c1, tr.end_t + 1e-9) - self.start) / dt - 1e-9)
        n = np.maximum(k_hi - k_lo, 0).astype(np.int64)
        agent = np.repeat(np.arange(tr.n_agents, dtype=np.int64), n)
        within = np.arange(len(agent)) - np.repeat(np.cumsum(n) - n, n)
        t = self.start + (np.repeat(k_lo, n) + within) * dt
        order = np.lexsort((agent, t))
        agent, t = agent[order], t[order]
        xy, heading = tr.sample(agent, t)
        zone = self.zones.zone_of(xy)
        zone[zone < 0] = len(self.zone_dict) - 1

        def dict_col(codes: npt.NDArray[np.integer], words: pa.Array) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), words).cast(
                pa.string()
            )

        return pa.table(
            {
                "t": pa.array(t),
                "device_id": dict_col(agent, self.device_dict),
                "x": pa.array(xy[:, 0]),
                "y": pa.array(xy[:, 1]),
                "heading_rad": pa.array(heading),
                "kind": dict_col(self.kind_code[agent], self.kind_dict),
                "zone": dict_col(zone, self.zone_dict),
                "visible": pa.array(self.visible_mask[agent]),
            },
            schema=TRUTH_SCHEMA,
        )
