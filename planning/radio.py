"""The radio a plan assumes: the simulator's channel reduced to what the bounds need.

Per reading, the mean RSSI of beacon b at a point is the log-distance law in 3-D minus
the obstacles crossed (and the shop front when the point and the radio are on
different sides of it), as in
:mod:`sim.radio`. Around that mean a reading varies by the static shadowing (it does
not average out while the shopper stands still), the per-packet fast fading and the
body (which way the carrier faces). A report arrives per beacon and second with the
probability the scan and advertising parameters give.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout
from sim.fields import obstacle_loss_db
from sim.params import RadioParams, ScanParams, radio_from_layout
from sim.radio import fade_table_db

__all__ = ["FIX_WINDOW_S", "PlanRadio"]

FloatArray = npt.NDArray[np.float64]

#: Seconds of readings one position fix combines: a tracker smooths over a few seconds
#: while the shopper walks ~4 m at 1.1 m/s (sim.params.CrowdParams.walk_speed_mean_mps),
#: so the shadowing, correlated over ``shadowing_corr_length_m``, partly averages too.
FIX_WINDOW_S = 4.0
WALK_SPEED_MPS = 1.1
#: A beacon counts as heard at a point when its mean RSSI clears the sensitivity by this
#: margin (one fade standard deviation: most packets then decode).
HEARD_MARGIN_DB = 4.0


@dataclass(frozen=True, slots=True)
class PlanRadio:
    """The channel a plan assumes, from the simulator's defaults and the layout's ``[radio]``."""

    params: RadioParams
    scan: ScanParams
    #: Standard deviation of the per-packet fast fade, dB (Rician, sim.radio).
    fade_sigma_db: float
    #: Standard deviation of the body loss over a uniformly random heading, dB.
    body_sigma_db: float

    @classmethod
    def for_layout(cls, layout: Layout, topology: str = "phone") -> PlanRadio:
        params = radio_from_layout(layout)
        scan = ScanParams(topology=topology).resolved()
        fade = float(np.std(fade_table_db(params.rician_k_db)))
        # body loss L (1 - cos theta) / 2 with theta uniform: variance L^2 / 8
        body = params.body_loss_db / np.sqrt(8.0)
        return cls(params, scan, fade, float(body))

    @property
    def exponent(self) -> float:
        assert self.params.path_loss_exponent is not None
        return self.params.path_loss_exponent

    @property
    def reading_sigma_db(self) -> float:
        """One reading's spread around the model mean, dB."""
        p = self.params
        return float(
            np.sqrt(p.shadowing_sigma_db**2 + self.fade_sigma_db**2 + self.body_sigma_db**2)
        )

    def fix_sigma_db(self, reports_per_s: FloatArray) -> FloatArray:
        """Spread of the mean of a fix window's readings: fading and body average over the
        reports, the shadowing over the independent patches walked through, and the
        beacon's own power error (a few dB, never averaging) stays."""
        p = self.params
        n = np.maximum(reports_per_s * FIX_WINDOW_S, 1.0)
        patches = 1.0 + WALK_SPEED_MPS * FIX_WINDOW_S / p.shadowing_corr_length_m
        fast = self.fade_sigma_db**2 + self.body_sigma_db**2
        slow = p.shadowing_sigma_db**2 / patches + p.beacon_power_sigma_db**2
        return np.asarray(np.sqrt(slow + fast / n))

    def reports_per_s(self, adv_interval_ms: FloatArray) -> FloatArray:
        """(B,) probability of a report per beacon and second (report period 1 s)."""
        s = self.scan
        if s.topology == "receivers":
            adv = np.full(len(adv_interval_ms), s.adv_interval_ms or s.device_adv_interval_ms)
        else:
            adv = np.asarray(adv_interval_ms, dtype=np.float64)
        events = np.maximum(
            np.floor(s.report_period_s * 1000.0 / (adv + s.adv_jitter_max_ms / 2)), 1
        )
        p = s.duty * (1.0 - s.packet_loss)
        return np.asarray((1.0 - (1.0 - p) ** events) / s.report_period_s)

    def height_offset_m(self, z_m: FloatArray) -> FloatArray:
        return np.asarray(np.abs(np.asarray(z_m, dtype=np.float64) - self.params.device_height_m))

    def mean_rssi_dbm(
        self,
        layout: Layout,
        points_xy: FloatArray,
        radio_xyz: FloatArray,
        tx_power_dbm: FloatArray,
        outside: npt.NDArray[np.bool_],
    ) -> FloatArray:
        """(P, B) mean RSSI at points from radios at (B, 3), obstacles and shop front included."""
        p = self.params
        diff = points_xy[:, None, :] - radio_xyz[None, :, :2]
        d2 = np.einsum("pbi,pbi->pb", diff, diff) + self.height_offset_m(radio_xyz[:, 2]) ** 2
        d2 = np.maximum(d2, p.min_distance_m**2)
        rssi = tx_power_dbm[None, :] - 5.0 * self.exponent * np.log10(d2)
        for b, xy in enumerate(radio_xyz[:, :2]):
            rssi[:, b] -= obstacle_loss_db(layout, p, xy, points_xy)
        # the glass on the path: radio and point on different sides of the shop front
        radio_outside = ~layout.contains(radio_xyz[:, :2])
        rssi -= (outside[:, None] != radio_outside[None, :]) * p.shopfront_loss_db
        return np.asarray(rssi)

    def heard(self, mean_dbm: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray(mean_dbm >= self.scan.sensitivity_dbm + HEARD_MARGIN_DB)

    def with_topology(self, topology: str) -> PlanRadio:
        scan = dataclasses.replace(self.scan, topology=topology, scan_duty_cycle=None).resolved()
        return dataclasses.replace(self, scan=scan)
