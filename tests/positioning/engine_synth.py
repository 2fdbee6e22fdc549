"""Test fixture: seeded synthetic observations in the fashion store (log-distance + noise).

Not a simulator: piecewise-linear walks sampled by every beacon at a fixed rate,
enough to drive the engine end to end with known answers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from beacons.observation import ObservationBatch
from positioning.layout import Layout

T0_S = 1_700_000_000.0


def walk(
    waypoints: list[tuple[float, float, float]],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(t offset s, x, y) waypoints -> times and positions of the path."""
    w = np.array(waypoints, dtype=np.float64)
    return w[:, 0], w[:, 1:]


def observe(
    layout: Layout,
    device_id: str,
    path: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    rng: np.random.Generator,
    rate_hz: float = 2.0,
    sigma_db: float = 3.0,
) -> ObservationBatch:
    t_path, xy_path = path
    times = np.arange(t_path[0], t_path[-1], 1.0 / rate_hz)
    t_all = np.repeat(times, len(layout.beacons)) + rng.uniform(
        0, 1.0 / rate_hz, len(times) * len(layout.beacons)
    )
    b_all = np.tile(np.arange(len(layout.beacons)), len(times))
    x = np.interp(t_all, t_path, xy_path[:, 0])
    y = np.interp(t_all, t_path, xy_path[:, 1])
    d = np.maximum(np.hypot(x - layout.beacon_xy[b_all, 0], y - layout.beacon_xy[b_all, 1]), 0.5)
    rssi = layout.tx_power_dbm[b_all] - 10 * layout.path_loss_exponent * np.log10(d)
    rssi = np.clip(rssi + rng.normal(0.0, sigma_db, len(d)), -126.0, -1.0)
    heard = rssi > -95.0
    ids = np.array(layout.beacon_ids)[b_all]
    return ObservationBatch.from_arrays(
        T0_S + t_all[heard], np.full(heard.sum(), device_id), ids[heard], rssi[heard]
    )


def scenario(layout: Layout, seed: int = 0) -> ObservationBatch:
    """A shopper walking in, stopping at a display and leaving; a passer-by; a standing device."""
    rng = np.random.default_rng(seed)
    shopper = walk(
        [(0, 15, -3), (4, 15, 2), (10, 5, 5), (50, 5, 5.2), (58, 15, 2), (62, 15, -3), (70, 25, -3)]
    )
    passer = walk([(0, -2, -2.5), (25, 32, -2.5)])
    stander = walk([(0, 25, 12), (70, 25, 12.3)])
    parts = [
        observe(layout, "shopper", shopper, rng),
        observe(layout, "passer", passer, rng),
        observe(layout, "stander", stander, rng),
    ]
    batch = ObservationBatch(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("t_s", "device_id", "beacon_id", "rssi_dbm")
        )
    )
    return batch.sorted_by_time()
