"""The radio model: mean received power per (device position, beacon), then packets.

RSSI [dBm] = P1m_b + o_d - 10 n log10(d3 / 1 m) - L_b(x, y) - body(theta) + fade

- ``P1m_b``: the beacon's true 1 m power (declared ``tx_power`` + a seeded offset),
- ``o_d``: the device's RSSI offset (phone model),
- ``d3``: 3-D distance (beacon on the ceiling, phone in the hand),
- ``L_b``: shadowing field plus obstacle losses along the line of sight (:mod:`sim.fields`),
- ``body``: ``body_loss_db * (1 - cos theta) / 2``, theta between walking heading and the
  direction to the beacon (0 when facing it, full loss when it is behind the body),
- ``fade``: per-packet Rician fast fading in dB, zero mean (so P1m is the mean RSSI at 1 m,
  the iBeacon "measured power" definition).

A report exists when at least one of the packets the receiver could catch in the
report period survives packet loss, the scan duty cycle and the sensitivity cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from positioning.layout import Layout
from sim.fields import LossMaps
from sim.params import RadioParams, ScanParams

__all__ = ["AnyFloat", "FADE_TABLE_SIZE", "FloatArray", "RadioModel", "fade_table_db"]

FloatArray = npt.NDArray[np.float64]
AnyFloat = npt.NDArray[np.floating[Any]]
#: Resolution of the fast-fading inverse-CDF table (uniform draws index into it).
FADE_TABLE_SIZE = 4096


def fade_table_db(k_db: float, size: int = FADE_TABLE_SIZE) -> npt.NDArray[np.float32]:
    """Quantiles of Rician fading in dB with unit mean power, shifted to zero mean in dB."""
    k = 10.0 ** (k_db / 10.0)
    nu = np.sqrt(k / (k + 1.0))
    sigma = np.sqrt(1.0 / (2.0 * (k + 1.0)))
    q = (np.arange(size) + 0.5) / size
    amplitude = stats.rice.ppf(q, nu / sigma, scale=sigma)
    db = 20.0 * np.log10(amplitude)
    return np.asarray(db - db.mean(), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class RadioModel:
    params: RadioParams
    scan: ScanParams
    beacon_xyz: FloatArray  # (B, 3)
    true_power_dbm: FloatArray  # (B,) true mean RSSI at 1 m
    maps: LossMaps
    fade_db: npt.NDArray[np.float32]
    packets_per_report: npt.NDArray[np.int64]  # (B,) advertising events per report period

    @classmethod
    def build(
        cls,
        layout: Layout,
        params: RadioParams,
        scan: ScanParams,
        extent_m: tuple[float, float, float, float],
        rng: np.random.Generator,
    ) -> RadioModel:
        b = len(layout.beacons)
        z = [bc.z_m if bc.z_m is not None else params.beacon_height_m for bc in layout.beacons]
        xyz = np.column_stack([layout.beacon_xy, np.asarray(z, dtype=np.float64)])
        true_power = layout.tx_power_dbm + rng.normal(0.0, params.beacon_power_sigma_db, b)
        maps = LossMaps.build(layout, params, extent_m, rng)
        if scan.topology == "receivers":
            adv = np.full(b, scan.adv_interval_ms or scan.device_adv_interval_ms)
        else:
            declared = [bc.adv_interval_ms or 100.0 for bc in layout.beacons]
            adv = np.full(b, scan.adv_interval_ms) if scan.adv_interval_ms else np.asarray(declared)
        # advDelay adds on average half its maximum to every interval.
        events = np.floor(scan.report_period_s * 1000.0 / (adv + scan.adv_jitter_max_ms / 2.0))
        return cls(
            params=params,
            scan=scan,
            beacon_xyz=xyz,
            true_power_dbm=true_power,
            maps=maps,
            fade_db=fade_table_db(params.rician_k_db),
            packets_per_report=np.maximum(events, 1).astype(np.int64),
        )

    def mean_rssi_dbm(
        self,
        x_m: AnyFloat,
        y_m: AnyFloat,
        heading_rad: AnyFloat,
        device_offset_db: AnyFloat,
    ) -> npt.NDArray[np.float32]:
        """(B, M) mean RSSI (before fast fading).

        ``x_m``, ``y_m``: (B, M) where the device is when beacon b's packet arrives;
        ``heading_rad``, ``device_offset_db``: (M,) per device report.
        """
        p = self.params
        assert p.path_loss_exponent is not None
        f32 = np.float32
        xyz = self.beacon_xyz.astype(f32)
        dx = xyz[:, 0:1] - np.asarray(x_m, dtype=f32)
        dy = xyz[:, 1:2] - np.asarray(y_m, dtype=f32)
        dz = xyz[:, 2:3] - f32(p.device_height_m)
        h2 = dx * dx + dy * dy
        d2 = np.maximum(h2 + dz * dz, f32(p.min_distance_m**2))
        rssi = self.true_power_dbm.astype(f32)[:, None] - f32(
            5.0 * p.path_loss_exponent
        ) * np.log10(d2)
        rssi += device_offset_db.astype(f32)[None, :]
        rssi -= self.maps.sample(x_m, y_m)
        if p.body_loss_db > 0:
            along = (
                dx * np.cos(heading_rad).astype(f32)[None, :]
                + dy * np.sin(heading_rad).astype(f32)[None, :]
            )
            cos = along / (np.sqrt(h2) + f32(1e-6))
            rssi -= f32(0.5 * p.body_loss_db) * (f32(1.0) - cos)
        return np.asarray(rssi, dtype=f32)

    def packet_probabilities(self) -> tuple[FloatArray, FloatArray]:
        """(B,) probability that 0, and exactly 1, packets reach the receiver in a period."""
        p = self.scan.duty * (1.0 - self.scan.packet_loss)
        n = self.packets_per_report
        p0 = np.asarray((1.0 - p) ** n, dtype=np.float64)
        p1 = np.asarray(n * p * (1.0 - p) ** (n - 1), dtype=np.float64)
        return p0, p1

    def reports(
        self, mean_dbm: npt.NDArray[np.float32], rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int8]]:
        """Which (B, M) pairs give a report this period, and its integer RSSI.

        The receiver reports the first packet that decodes; we draw up to two candidate
        packets (the first, and a second when more than one got through), each with its
        own fade, and keep the first above the sensitivity.
        """
        p0, p1 = self.packet_probabilities()
        u = rng.random((3,) + mean_dbm.shape, dtype=np.float32)
        n_got = (u[0] >= p0[:, None]).astype(np.int8) + (u[0] >= (p0 + p1)[:, None])
        size = len(self.fade_db)
        first = mean_dbm + self.fade_db[(u[1] * size).astype(np.intp)]
        second = mean_dbm + self.fade_db[(u[2] * size).astype(np.intp)]
        sens = self.scan.sensitivity_dbm
        ok1 = (n_got >= 1) & (first >= sens)
        ok2 = (n_got >= 2) & (second >= sens)
        rssi = np.where(ok1, first, second)
        heard = ok1 | ok2
        return heard, np.clip(np.rint(rssi), -127, -1).astype(np.int8)
