"""The log-distance path-loss model: expected RSSI at a distance, and its inverse.

    rssi(d) = P_1m - 10 * n * log10(max(d, d_min))

``P_1m`` is the declared RSSI at 1 m (iBeacon "measured power", Eddystone "ranging
data" at 0 m minus 41 dB) and ``n`` the path-loss exponent: 2 in free space, 1.6-1.8
along corridors and 2-3 on a furnished shop floor (Rappaport, *Wireless
Communications*, 2nd ed., table 4.2; Seidel & Rappaport, IEEE Trans. AP 40(2), 1992).
All functions are vectorised and broadcast over their arguments.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout

__all__ = [
    "DEFAULT_HEIGHT_OFFSET_M",
    "DEFAULT_SIGMA_DB",
    "DEVICE_HEIGHT_M",
    "EXPONENT_BOUNDS",
    "MIN_DISTANCE_M",
    "beacon_height_offsets_m",
    "distance_from_rssi",
    "distance_m",
    "rssi_at_distance",
    "rssi_gradient_wrt_position",
]


FloatArray = npt.NDArray[np.floating]

#: Closest distance the model is evaluated at. Below ~0.5 m a phone is in the antenna's
#: near field (lambda/2pi at 2.4 GHz is 2 cm, but body and case coupling dominate up to
#: tens of cm) and the log model diverges; clamping keeps likelihoods finite.
MIN_DISTANCE_M = 0.5

#: Standard deviation of BLE RSSI about the log-distance mean on a shop floor, dB.
#: Fast fading plus body shadowing measure 4-8 dB indoors (Faragher & Harle, IEEE JSAC
#: 33(11), 2015, "Location fingerprinting with Bluetooth Low Energy beacons").
DEFAULT_SIGMA_DB = 6.0

#: Height of a phone in the hand or a tag on a lanyard above the floor, metres
#: (standing adult chest to waist height).
DEVICE_HEIGHT_M = 1.2
#: Vertical beacon-to-device distance assumed when a layout gives no beacon ``z``,
#: metres, added in quadrature to the floor distance. Retail beacons sit on ceilings
#: (2.4-3 m) or shelf tops (~2 m) above a phone at ~1.2 m: 0.8-1.8 m; 1.0 m is the
#: conservative middle (it matters only within a few metres of a beacon).
DEFAULT_HEIGHT_OFFSET_M = 1.0

#: Lowest and highest exponent accepted from any fit (free-space waveguide corridors
#: reach 1.6; dense clutter 4 — Rappaport table 4.2).
EXPONENT_BOUNDS = (1.4, 4.5)


def beacon_height_offsets_m(layout: Layout) -> npt.NDArray[np.float64]:
    """(B,) vertical distance of each beacon to a device: |z - DEVICE_HEIGHT_M|, or the default."""
    return np.array(
        [
            abs(b.z_m - DEVICE_HEIGHT_M) if b.z_m is not None else DEFAULT_HEIGHT_OFFSET_M
            for b in layout.beacons
        ],
        dtype=np.float64,
    )


def distance_m(
    points_xy: npt.ArrayLike,
    beacons_xy: npt.ArrayLike,
    height_offset_m: npt.ArrayLike = 0.0,
) -> FloatArray:
    """Distances of (..., 2) points to (B, 2) beacons, with (B,) or scalar heights added in
    quadrature: shape (..., B), clamped at MIN_DISTANCE_M."""
    p = np.asarray(points_xy)
    b = np.asarray(beacons_xy)
    diff = p[..., None, :] - b
    d2 = np.einsum("...i,...i->...", diff, diff) + np.asarray(height_offset_m) ** 2
    return np.asarray(np.sqrt(np.maximum(d2, MIN_DISTANCE_M**2)))


def rssi_at_distance(
    d_m: npt.ArrayLike, tx_power_dbm: npt.ArrayLike, exponent: npt.ArrayLike
) -> FloatArray:
    """Expected RSSI (dBm) at distance ``d_m`` for a declared 1 m power and an exponent."""
    d = np.maximum(np.asarray(d_m), MIN_DISTANCE_M)
    return np.asarray(np.asarray(tx_power_dbm) - 10.0 * np.asarray(exponent) * np.log10(d))


def distance_from_rssi(
    rssi_dbm: npt.ArrayLike, tx_power_dbm: npt.ArrayLike, exponent: npt.ArrayLike
) -> FloatArray:
    """Inverse of :func:`rssi_at_distance`: the distance (m) at which the model predicts the RSSI."""
    r = np.asarray(rssi_dbm, dtype=np.float64)
    d = 10.0 ** ((np.asarray(tx_power_dbm) - r) / (10.0 * np.asarray(exponent)))
    return np.asarray(np.maximum(d, MIN_DISTANCE_M))


def rssi_gradient_wrt_position(
    points_xy: npt.ArrayLike,
    beacons_xy: npt.ArrayLike,
    exponent: float,
    height_offset_m: npt.ArrayLike = 0.0,
) -> FloatArray:
    """d rssi / d (x, y) of the model at each point for each beacon: shape (..., B, 2), dB/m.

    With d^2 = |p - b|^2 + h^2: d/dp [-10 n log10 d] = -10 n / ln(10) * (p - b) / d^2.
    Inside MIN_DISTANCE_M the model is flat and the gradient zero.
    """
    p = np.asarray(points_xy, dtype=np.float64)
    b = np.asarray(beacons_xy, dtype=np.float64)
    diff = p[..., None, :] - b
    d2 = np.einsum("...i,...i->...", diff, diff) + np.asarray(height_offset_m) ** 2
    inside = d2 < MIN_DISTANCE_M**2
    scale = np.where(inside, 0.0, -10.0 * exponent / np.log(10.0) / np.maximum(d2, 1e-12))
    return np.asarray(scale[..., None] * diff)
