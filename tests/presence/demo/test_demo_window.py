"""The demo's replay window and its engine's reorder buffer fit: every reading counts.

The demo sends each device's readings of ``SCAN_WINDOW_S`` as one message, so rows reach
the engine up to that much out of order; its engine waits ``REPLAY_REORDER_S`` for them.
Fed the windowed messages in publishing order, the engine must drop no row and give the
events of a batch run (same ids); a shorter buffer than the window would drop rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from beacons.observation import ObservationBatch
from positioning.engine import Engine, EngineOutput, EngineParams
from positioning.layout import load_layout
from presence.demo.run import DEFAULT_STORE, REPLAY_REORDER_S, SCAN_WINDOW_S, resolve_store
from presence.services.replay import scans


def _walks(beacons: list[str], seed: int) -> ObservationBatch:
    """Five phones hearing the beacons at irregular times for 90 s, time-ordered (a log)."""
    rng = np.random.default_rng(seed)
    t, dev, bea, rssi = [], [], [], []
    for d in range(5):
        times = np.cumsum(rng.uniform(0.05, 0.3, 400)) + rng.uniform(0, 5)
        for ti in times[times < 90.0]:
            t.append(1000.0 + ti)
            dev.append(f"phone-{d}")
            bea.append(beacons[int(rng.integers(len(beacons)))])
            rssi.append(float(rng.uniform(-90, -50)))
    order = np.argsort(t, kind="stable")
    return ObservationBatch.from_arrays(
        np.asarray(t)[order],
        np.asarray(dev, dtype=object)[order],
        np.asarray(bea, dtype=object)[order],
        np.asarray(rssi)[order],
    )


def _windowed(layout, batch: ObservationBatch, reorder_s: float) -> tuple[EngineOutput, int]:
    engine = Engine(layout, EngineParams(reorder_s=reorder_s), locator="nearest")
    outs = [engine.push(scan.to_batch()) for scan in scans(batch, SCAN_WINDOW_S)]
    outs.append(engine.finish())
    return EngineOutput.concat(outs), engine.stats["rows_late"]


def test_the_replay_window_fits_the_engines_reorder_buffer() -> None:
    layout = load_layout(resolve_store(Path(DEFAULT_STORE)))
    batch = _walks(list(layout.beacon_ids), seed=3)
    live, late = _windowed(layout, batch, REPLAY_REORDER_S)
    assert late == 0
    engine = Engine(layout, EngineParams(reorder_s=REPLAY_REORDER_S), locator="nearest")
    batch_run = EngineOutput.concat([engine.push(batch), engine.finish()])
    assert len(live.events) > 0
    assert [e.id for e in live.events] == [e.id for e in batch_run.events]
    assert np.allclose(live.positions.x_m, batch_run.positions.x_m)
    # the check can fail: half the buffer loses the rows a window holds back
    _, late_short = _windowed(layout, batch, REPLAY_REORDER_S / 2)
    assert late_short > 0
