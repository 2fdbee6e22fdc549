"""Test fixture: a tiny seeded RSSI generator (log-distance + Gaussian noise).

Not a simulator: straight walks and standing devices in a small store with one
shelf, enough to give the locators a known answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from beacons.observation import ObservationBatch
from positioning.geometry import count_crossed
from positioning.layout import Layout, parse_layout
from positioning.pathloss import beacon_height_offsets_m, distance_m, rssi_at_distance

BEACONS_XY = [(1, 1), (10, 1), (19, 1), (1, 6), (19, 6), (1, 11), (10, 11), (19, 11), (10, 6)]
SHELF = [[6.0, 4.0], [14.0, 4.0], [14.0, 5.0], [6.0, 5.0]]


def small_store(tx_power_dbm: float = -59.0, exponent: float = 2.0) -> Layout:
    doc: dict[str, Any] = {
        "store": {"name": "synth", "width": 20.0, "height": 12.0, "entrance": [[8, 0], [12, 0]]},
        "radio": {"path_loss_exponent": exponent},
        "beacons": [
            {"id": f"{i + 1}", "x": float(x), "y": float(y), "tx_power": tx_power_dbm}
            for i, (x, y) in enumerate(BEACONS_XY)
        ],
        "obstacles": [{"kind": "shelf", "polygon": SHELF}],
        "zones": [{"name": "left", "polygon": [[0, 0], [10, 0], [10, 12], [0, 12]]}],
    }
    return parse_layout(doc)


def observe_path(
    layout: Layout,
    device_id: str,
    t_s: npt.NDArray[np.float64],
    xy_m: npt.NDArray[np.float64],
    rng: np.random.Generator,
    sigma_db: float = 4.0,
    rate_hz: float = 5.0,
    offset_db: float = 0.0,
    exponent: float | None = None,
    shopfront_loss_db: float = 0.0,
    obstacle_loss_db: float = 0.0,
) -> ObservationBatch:
    """Each beacon heard at ``rate_hz`` (random phase) along a path sampled at ``t_s``;
    points outside the outline (the street) lose ``shopfront_loss_db`` through the glass,
    and every obstacle on the line of sight costs ``obstacle_loss_db``."""
    n = layout.path_loss_exponent if exponent is None else exponent
    heights = beacon_height_offsets_m(layout)
    rows_t, rows_b, rows_r = [], [], []
    for b, (bx, by) in enumerate(layout.beacon_xy):
        times = np.arange(t_s[0] + rng.uniform(0, 1 / rate_hz), t_s[-1], 1 / rate_hz)
        px = np.interp(times, t_s, xy_m[:, 0])
        py = np.interp(times, t_s, xy_m[:, 1])
        d = distance_m(np.column_stack([px, py]), np.array([[bx, by]]), heights[b])[:, 0]
        r = rssi_at_distance(d, layout.beacons[b].tx_power_dbm + offset_db, n)
        pts = np.column_stack([px, py])
        r = r - shopfront_loss_db * ~layout.contains(pts)
        if obstacle_loss_db:
            walls = [o.polygon for o in layout.obstacles]
            origin = np.broadcast_to(np.array([bx, by]), pts.shape)
            r = r - obstacle_loss_db * count_crossed(origin, pts, walls)
        r = r + rng.normal(0.0, sigma_db, len(times)) if sigma_db > 0 else r
        rows_t.append(times)
        rows_b.append(np.full(len(times), layout.beacons[b].id))
        rows_r.append(np.clip(r, -126.0, -1.0))
    t = np.concatenate(rows_t)
    batch = ObservationBatch.from_arrays(
        t, np.full(len(t), device_id), np.concatenate(rows_b), np.concatenate(rows_r)
    )
    return batch.sorted_by_time()


def straight_walk(
    start: tuple[float, float], end: tuple[float, float], speed_m_s: float = 1.0, t0_s: float = 0.0
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    a, b = np.array(start, float), np.array(end, float)
    duration = float(np.linalg.norm(b - a)) / speed_m_s
    t = np.linspace(t0_s, t0_s + duration, max(2, int(duration * 10) + 1))
    f = (t - t0_s) / duration
    return t, a + f[:, None] * (b - a)


def merge(*batches: ObservationBatch) -> ObservationBatch:
    return ObservationBatch.from_arrays(
        np.concatenate([b.t_s for b in batches]),
        np.concatenate([b.device_id for b in batches]),
        np.concatenate([b.beacon_id for b in batches]),
        np.concatenate([b.rssi_dbm for b in batches]),
    ).sorted_by_time()


def truth_at(
    t_path: npt.NDArray[np.float64], xy_path: npt.NDArray[np.float64], t_s: float
) -> npt.NDArray[np.float64]:
    return np.array([np.interp(t_s, t_path, xy_path[:, 0]), np.interp(t_s, t_path, xy_path[:, 1])])
