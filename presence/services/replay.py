"""Publish an observation log on the bus, paced to N x real time (``instore replay``).

Rows become scan messages, one per device per scan: consecutive rows with the same
time and device (a beacon may appear once per message). Consecutive grouping keeps
the exact row order of the log, so the live engine sees what a batch run sees.
Pacing follows the observations' clock: message at time t leaves at
``start + (t - t0) / speed``; ``speed=inf`` publishes as fast as the broker acknowledges.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from beacons.observation import ObservationBatch
from positioning.layout import Layout
from presence.transport.bus import Bus
from presence.transport.payloads import END_OF_STREAM, ScanMessage, encode_control, encode_scan
from presence.transport.topics import Topics
from sim.obslog import RejectedRows, iter_observation_log

__all__ = [
    "DEFAULT_SCAN_WINDOW_S",
    "MIN_SLEEP_S",
    "PROGRESS_EVERY",
    "replay_log",
    "ReplayReport",
    "scans",
]

#: The pacer sleeps only when it is at least this far ahead, seconds (sleep granularity).
MIN_SLEEP_S = 0.002
#: Messages between progress updates.
PROGRESS_EVERY = 200
#: `instore replay`'s scan window, seconds: a phone or gateway reports once per scan cycle
#: (iOS ranging calls back every 1 s), not once per reading; just below the engine's 1 s
#: reorder tolerance, so every row still counts and the events stay those of a batch run.
#: One message per row group (0) costs `run` ~8x the messages for the same observations.
DEFAULT_SCAN_WINDOW_S = 0.9


@dataclass(frozen=True, slots=True)
class ReplayReport:
    rows: int
    messages: int
    first_t_s: float
    last_t_s: float
    elapsed_s: float
    rejected: RejectedRows

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else math.inf


def scans(batch: ObservationBatch, window_s: float = 0.0) -> Iterator[ScanMessage]:
    """Scan messages, in publishing order.

    ``window_s`` 0: one message per run of consecutive rows with one time and device
    (the log's exact row order). ``window_s`` > 0: a device's readings within that many
    seconds share one message, each reading kept with its offset (``dt_s``), as a gateway
    reporting per scan window would; rows then reach the engine up to ``window_s`` out of
    order. A replay keeps every reading (it never averages, unlike a live scanner's
    :class:`~presence.services.scanning.ScanWindows`): its purpose is to give the engine
    the very rows a batch run reads, so that the events equal ``instore locate``'s.
    """
    if window_s > 0:
        yield from _windowed(batch, window_s)
        return
    n = len(batch)
    if n == 0:
        return
    change = np.ones(n, dtype=bool)
    change[1:] = (batch.t_s[1:] != batch.t_s[:-1]) | (batch.device_id[1:] != batch.device_id[:-1])
    starts = np.flatnonzero(change).tolist() + [n]
    t_list = batch.t_s.tolist()
    dev_list = batch.device_id.tolist()
    beacon_list = batch.beacon_id.tolist()
    rssi_list = batch.rssi_dbm.tolist()
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        readings: dict[str, float] = {}
        for i in range(a, b):
            if beacon_list[i] in readings:  # same beacon twice in one scan: start a new message
                yield ScanMessage(dev_list[a], t_list[a], readings)
                readings = {}
            readings[beacon_list[i]] = rssi_list[i]
        yield ScanMessage(dev_list[a], t_list[a], readings)


def _windowed(batch: ObservationBatch, window_s: float) -> Iterator[ScanMessage]:
    # device -> (t, readings, offsets) being filled, in order of opening
    open_: dict[str, tuple[float, dict[str, float], dict[str, float]]] = {}
    rows = zip(
        batch.t_s.tolist(),
        batch.device_id.tolist(),
        batch.beacon_id.tolist(),
        batch.rssi_dbm.tolist(),
        strict=True,
    )

    def close(device: str) -> ScanMessage:
        t0, readings, offsets = open_.pop(device)
        return ScanMessage(device, t0, readings, offsets)

    for t, device, beacon, rssi in rows:
        while open_:
            first = next(iter(open_))
            if t - open_[first][0] <= window_s:
                break
            yield close(first)
        if device in open_ and beacon in open_[device][1]:
            yield close(device)
        if device not in open_:
            open_[device] = (t, {}, {})
        t0, readings, offsets = open_[device]
        readings[beacon] = rssi
        offsets[beacon] = t - t0
    while open_:
        yield close(next(iter(open_)))


def replay_log(
    client: Bus,
    layout: Layout,
    path: str,
    *,
    speed: float = 1.0,
    window_s: float = 0.0,
    on_rows: Callable[[int], None] | None = None,
    end_of_stream: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Publish the log's usable rows (cleaned as in batch: sim.obslog) and, at the end, an
    end-of-stream control message; waits until the broker acknowledged everything."""
    topics = Topics(layout.name)
    rejected = RejectedRows.none()
    rows = messages = unreported = 0
    t0 = t_last = math.nan
    start = clock()
    for batch, rej in iter_observation_log(path, beacon_ids=layout.beacon_ids):
        rejected = rejected.merged(rej)
        for scan in scans(batch, window_s):
            if math.isnan(t0):
                t0, start = scan.t_s, clock()
            if math.isfinite(speed):
                ahead = start + (scan.t_s - t0) / speed - clock()
                if ahead > MIN_SLEEP_S:
                    sleep(ahead)
            client.publish(topics.obs(scan.device_id), encode_scan(scan))
            messages += 1
            unreported += len(scan.rssi_dbm)
            t_last = scan.t_s
            if on_rows is not None and messages % PROGRESS_EVERY == 0:
                on_rows(unreported)
                unreported = 0
        rows += len(batch)
    if on_rows is not None:
        on_rows(unreported)
    if end_of_stream:
        end = encode_control(
            END_OF_STREAM, t_s=0.0 if math.isnan(t_last) else t_last, source="replay"
        )
        client.publish(topics.control, end)
    client.wait_published(timeout_s=600.0)
    return ReplayReport(rows, messages, t0, t_last, clock() - start, rejected)
