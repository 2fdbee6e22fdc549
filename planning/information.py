"""What a set of radios tells about a position and about the door, as additive sums.

Position: the Fisher information of (x, y, c) at each floor point, c the phone's unknown
RSSI offset (Patwari et al., "Locating the nodes", IEEE Signal Processing Magazine 22(4),
2005, eq. 9, with the offset as a nuisance parameter). Each heard radio adds
g g^T / sigma^2 with g = (d mu / dx, d mu / dy, 1); sigma is the spread of a fix
window's mean reading (:meth:`PlanRadio.fix_sigma_db`).

Door: for a point just inside and a street point, each heard radio's readings differ in
mean by Delta_b; per second they carry q_b Delta_b^2 / (2 sigma^2) nats (Kullback-Leibler
of two Gaussians), less what the unknown offset explains: a common shift of every
Delta_b (the glass in front of every radio) is not evidence. The sums S0, S1, S2 of
q/sigma^2 times 1, Delta, Delta^2 add over radios; the rate is (S2 - S1^2 / S0) / 2.

Because every term adds over radios, a greedy search prices a candidate with one
addition instead of a new computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planning.floor import Floor
from planning.radio import PlanRadio
from positioning.layout import Layout

__all__ = ["Information", "Radios", "information_of"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Radios:
    """Fixed radios: (B, 3) positions in metres, (B,) declared 1 m power and advertising interval."""

    xyz: FloatArray
    tx_power_dbm: FloatArray
    adv_interval_ms: FloatArray

    @classmethod
    def of_layout(cls, layout: Layout, radio: PlanRadio) -> Radios:
        ceiling = radio.params.beacon_height_m
        z = [b.z_m if b.z_m is not None else ceiling for b in layout.beacons]
        return cls(
            np.column_stack([layout.beacon_xy, np.asarray(z, dtype=np.float64)]),
            layout.tx_power_dbm,
            np.array([b.adv_interval_ms or 100.0 for b in layout.beacons], dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.xyz)


@dataclass(frozen=True, slots=True)
class Information:
    """Per radio (first axis): Fisher terms at floor points and door evidence sums.

    fisher: (B, P, 6) the upper triangle xx, xy, xc, yy, yc, cc;
    door: (B, 3, L, D, S) S0, S1, S2 per entry line, depth and street point.
    """

    fisher: FloatArray
    door: FloatArray

    def total(self) -> Information:
        return Information(
            self.fisher.sum(axis=0, keepdims=True), self.door.sum(axis=0, keepdims=True)
        )

    def pick(self, index: int) -> Information:
        return Information(self.fisher[index : index + 1], self.door[index : index + 1])

    def plus(self, other: Information) -> Information:
        """Sum of two totals (each with one row)."""
        return Information(self.fisher + other.fisher, self.door + other.door)


def information_of(layout: Layout, floor: Floor, radio: PlanRadio, radios: Radios) -> Information:
    if len(radios) == 0:
        lines, depths, street = (
            floor.door_in_xy.shape[0],
            floor.door_in_xy.shape[1],
            floor.door_out_xy.shape[1],
        )
        return Information(
            np.zeros((0, len(floor.points_xy), 6)), np.zeros((0, 3, lines, depths, street))
        )
    return Information(_fisher(layout, floor, radio, radios), _door(layout, floor, radio, radios))


def _fisher(layout: Layout, floor: Floor, radio: PlanRadio, radios: Radios) -> FloatArray:
    p = floor.points_xy
    mean = radio.mean_rssi_dbm(layout, p, radios.xyz, radios.tx_power_dbm, np.zeros(len(p), bool))
    sigma = radio.fix_sigma_db(radio.reports_per_s(radios.adv_interval_ms))
    w = radio.heard(mean) / sigma[None, :] ** 2  # (P, B)
    diff = p[:, None, :] - radios.xyz[None, :, :2]
    d2 = np.einsum("pbi,pbi->pb", diff, diff) + radio.height_offset_m(radios.xyz[:, 2]) ** 2
    d2 = np.maximum(d2, radio.params.min_distance_m**2)
    g = (-10.0 * radio.exponent / np.log(10.0)) * diff / d2[..., None]  # (P, B, 2)
    gx, gy = g[..., 0], g[..., 1]
    terms = np.stack([gx * gx, gx * gy, gx, gy * gy, gy, np.ones_like(gx)], axis=-1)
    return np.asarray(np.moveaxis(w[..., None] * terms, 1, 0))  # (B, P, 6)


def _door(layout: Layout, floor: Floor, radio: PlanRadio, radios: Radios) -> FloatArray:
    lines, depths, _ = floor.door_in_xy.shape
    street = floor.door_out_xy.shape[1]
    b = len(radios)
    if lines == 0:
        return np.zeros((b, 3, 0, depths, street))
    inside = floor.door_in_xy.reshape(-1, 2)
    outside = floor.door_out_xy.reshape(-1, 2)
    mu_in = radio.mean_rssi_dbm(
        layout, inside, radios.xyz, radios.tx_power_dbm, np.zeros(len(inside), bool)
    )
    mu_out = radio.mean_rssi_dbm(
        layout, outside, radios.xyz, radios.tx_power_dbm, np.ones(len(outside), bool)
    )
    mu_in = mu_in.reshape(lines, depths, 1, b)
    mu_out = mu_out.reshape(lines, 1, street, b)
    heard = radio.heard(mu_in) & radio.heard(mu_out)
    rate = radio.reports_per_s(radios.adv_interval_ms) / radio.reading_sigma_db**2
    w = heard * rate  # (L, D, S, B)
    delta = mu_in - mu_out
    sums = np.stack([w, w * delta, w * delta**2])  # (3, L, D, S, B)
    return np.asarray(np.moveaxis(sums, -1, 0))
