"""The dashboard's state behind a lock, shared by the bus threads and the web server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from positioning.layout import Layout
from positioning.walkable import DEFAULT_STREET_DEPTH_M
from presence.dashboard.state import DashboardState

__all__ = [
    "DashboardHub",
    "layout_json",
]


class DashboardHub:
    """The state behind a lock: bus handlers ``update`` it, the web server reads snapshots."""

    def __init__(self, state: DashboardState) -> None:
        self._state = state
        self._lock = threading.Lock()
        self.bus_status = "connecting"
        self.closed = False

    @property
    def version(self) -> int:
        """Grows with every change; a stream pushes a snapshot when it moved."""
        return self._state.version

    def update(self, fn: Callable[[DashboardState], None]) -> None:
        with self._lock:
            fn(self._state)

    def set_bus_status(self, status: str) -> None:
        with self._lock:
            self.bus_status = status
            self._state.version += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._state.expire()
            snap = self._state.snapshot()
            snap["bus"] = self.bus_status
            return snap

    def heatmap(self) -> dict[str, Any]:
        with self._lock:
            return self._state.heatmap()

    def close(self) -> None:
        """Open streams end at their next poll."""
        self.closed = True


def layout_json(layout: Layout) -> dict[str, Any]:
    """What the page needs to draw the floor plan (metres, origin bottom-left)."""
    return {
        "name": layout.name,
        "width": layout.width_m,
        "height": layout.height_m,
        "street_depth": DEFAULT_STREET_DEPTH_M if layout.entrance is not None else 0.0,
        "entrance": None if layout.entrance is None else layout.entrance.tolist(),
        "beacons": [{"id": b.id, "x": b.x_m, "y": b.y_m} for b in layout.beacons],
        "zones": [{"name": z.name, "polygon": z.polygon.tolist()} for z in layout.zones],
        "obstacles": [{"kind": o.kind, "polygon": o.polygon.tolist()} for o in layout.obstacles],
    }
