"""What the self-calibration learns from a fix's particle cloud rather than its mean.

The self-calibration leaves out rows of a beacon nearer than ``min_distance_m``, where a
1 m position error swamps log10 d. Measured from the fix, that gate works one way only:
a device standing 1.5 m under a beacon is left out at its true spot but let in at a wrong
fix 3 m away, whose too-large distance then makes that beacon look louder (issue 16,
session 27: kolakowski-robot, receiver 2). Measured over the cloud, a row counts by the
share of the posterior that puts the device beyond the gate, so a cloud that reaches the
beacon says little about its offset. The cloud's mean log10 d also removes the Jensen
bias of log10 d taken at the mean of a spread cloud.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from positioning.pathloss import distance_m

__all__ = ["cloud_distance"]

FloatArray = npt.NDArray[np.float64]

#: devices x particles x beacons distances computed at once (float32: 8 MB)
_CHUNK_ELEMENTS = 2_000_000


def cloud_distance(
    pos_xy: npt.NDArray[np.floating],
    weight: npt.NDArray[np.floating],
    beacon_xy: FloatArray,
    height_offset_m: npt.ArrayLike,
    gate_m: float,
) -> tuple[FloatArray, FloatArray]:
    """Share of each cloud's weight at least ``gate_m`` from each beacon, and the weighted
    mean log10 distance over those particles (NaN where none is).

    pos_xy (D, P, 2) particles, weight (D, P) their weights (any scale), beacon_xy (B, 2),
    height_offset_m (B,) or scalar. Returns two (D, B) arrays."""
    n_dev, n_part = weight.shape
    n_beacon = len(beacon_xy)
    share = np.zeros((n_dev, n_beacon))
    log10_d = np.full((n_dev, n_beacon), np.nan)
    step = max(1, _CHUNK_ELEMENTS // max(1, n_part * n_beacon))
    bxy = np.asarray(beacon_xy, dtype=np.float32)
    h = np.asarray(height_offset_m, dtype=np.float32)
    for lo in range(0, n_dev, step):
        hi = min(n_dev, lo + step)
        d = distance_m(pos_xy[lo:hi].astype(np.float32), bxy, h)  # (d, P, B)
        w = weight[lo:hi].astype(np.float64)
        w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
        far = np.where(d >= gate_m, w[:, :, None], 0.0)  # (d, P, B)
        total = far.sum(axis=1)
        share[lo:hi] = total
        summed = np.einsum("dpb,dpb->db", far, np.log10(d, dtype=np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            log10_d[lo:hi] = np.where(total > 0, summed / total, np.nan)
    return share, log10_d
