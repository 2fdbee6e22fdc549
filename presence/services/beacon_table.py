"""What ``instore scan --table`` shows: every layout beacon and any other beacon heard,
with its last and smoothed RSSI and the distance the layout's radio model gives."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.table import Table

from beacons.frames import BeaconFrame
from beacons.scanner import Heard
from positioning.layout import Layout
from positioning.pathloss import distance_from_rssi

__all__ = ["advertised_power_dbm", "BeaconRow", "BeaconTable", "frame_label", "TABLE_SMOOTHING_S"]

#: Time constant of the table's RSSI smoothing: ~10 advertisements at 100 ms intervals,
#: enough to calm fast fading (4-8 dB) while still following someone moving a beacon.
TABLE_SMOOTHING_S = 2.0


@dataclass(slots=True)
class BeaconRow:
    label: str
    in_layout: bool
    tx_power_dbm: float
    last_rssi_dbm: float | None = None
    smoothed_dbm: float | None = None
    last_seen_s: float | None = None
    count: int = 0


def frame_label(frame: BeaconFrame) -> str:
    """How a beacon that is not in the layout is shown: its advertised identifiers."""
    j = frame.to_json()
    if "major" in j:
        return f"{j['format']} {j['uuid']} {j['major']}/{j['minor']}"
    if "namespace" in j:
        return f"{j['format']} {j['namespace']}/{j['instance']}"
    if "id1" in j:
        return f"{j['format']} {j['id1']} {j['id2']}/{j['id3']}"
    return str(j["format"])


def advertised_power_dbm(frame: object) -> float:
    """The power at 1 m a frame advertises, or -59 dBm (a typical beacon's) when it gives none or
    an impossible one: some vendor iBeacons put other data in that byte (NRF51822 0x1A = +26 dBm,
    a Theengs tracker 0x64 = +100, tests/beacons/data/real_vectors.jsonl)."""
    p1 = getattr(frame, "rssi_at_1m_dbm", None)
    return float(p1) if p1 is not None and -100.0 <= p1 < 0.0 else -59.0


class BeaconTable:
    """State of the ``--table`` view: every layout beacon, and other beacons heard."""

    def __init__(self, layout: Layout) -> None:
        self.exponent = layout.path_loss_exponent
        self.rows: dict[str, BeaconRow] = {
            b.id: BeaconRow(b.id, True, b.tx_power_dbm) for b in layout.beacons
        }

    def heard(self, h: Heard) -> None:
        key = h.beacon_id or frame_label(h.frame)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = BeaconRow(key, False, advertised_power_dbm(h.frame))
        if row.smoothed_dbm is None or row.last_seen_s is None:
            row.smoothed_dbm = h.rssi_dbm
        else:
            alpha = 1.0 - math.exp(-max(h.t_s - row.last_seen_s, 0.0) / TABLE_SMOOTHING_S)
            row.smoothed_dbm += alpha * (h.rssi_dbm - row.smoothed_dbm)
        row.last_rssi_dbm, row.last_seen_s = h.rssi_dbm, h.t_s
        row.count += 1

    def render(self, now_s: float) -> Table:
        t = Table(title="BLE beacons heard", caption="distance from smoothed RSSI, layout tx_power")
        for col in ("beacon", "RSSI dBm", "smoothed", "distance m", "heard", "last seen"):
            t.add_column(col, justify="left" if col == "beacon" else "right")
        for row in sorted(self.rows.values(), key=lambda r: (not r.in_layout, r.label)):
            if row.last_seen_s is None or row.smoothed_dbm is None:
                t.add_row(row.label, "-", "-", "-", "0", "[red]not heard[/red]")
                continue
            d = float(distance_from_rssi(row.smoothed_dbm, row.tx_power_dbm, self.exponent))
            label = row.label if row.in_layout else f"[yellow]{row.label} (not in layout)[/yellow]"
            t.add_row(
                label,
                f"{row.last_rssi_dbm:.0f}",
                f"{row.smoothed_dbm:.1f}",
                f"{d:.1f}",
                str(row.count),
                f"{max(now_s - row.last_seen_s, 0.0):.1f} s ago",
            )
        return t
