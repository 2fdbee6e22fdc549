"""The dashboard as a running service: bus subscriptions + decision poller + HTTP server."""

from __future__ import annotations

import logging
import threading

from positioning.layout import Layout
from presence.dashboard.feed import BusFeed, DecisionPoller
from presence.dashboard.hub import DashboardHub
from presence.dashboard.server import DashboardServer
from presence.dashboard.state import DashboardState
from presence.transport.bus import BusClient, BusConfig
from presence.transport.topics import Topics

__all__ = [
    "BUS_STATUS_POLL_S",
    "SERVICE",
    "Dashboard",
]


log = logging.getLogger(__name__)

#: How often the broker connection is checked for the page's status badge.
BUS_STATUS_POLL_S = 0.5

SERVICE = "dashboard"


class Dashboard:
    """Everything behind the staff page. ``start()`` then ``url``; ``stop()`` ends every part."""

    def __init__(
        self,
        layout: Layout,
        bus_config: BusConfig,
        crm_url: str | None,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        password: str | None = None,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self.layout = layout
        self.topics = Topics(layout.name)
        state = DashboardState(layout.width_m, layout.height_m, tuple(z.name for z in layout.zones))
        self.hub = DashboardHub(state)
        self.feed = BusFeed(self.hub, store=layout.name)
        self.server = DashboardServer(
            self.hub, layout, host, port, password=password, allowed_hosts=allowed_hosts
        )
        self._bus_config = bus_config
        self._bus: BusClient | None = None
        self._poller = DecisionPoller(self.hub, crm_url, store=layout.name) if crm_url else None
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_bus, name="dashboard-bus", daemon=True)

    @property
    def url(self) -> str:
        """The address to open, with this run's token (see :mod:`presence.dashboard.auth`)."""
        return self.server.url

    def start(self) -> Dashboard:
        # A viewer needs no backlog after an outage: a clean session, and the next
        # positions redraw the map; subscriptions are renewed by the client on reconnect.
        bus = self._bus = BusClient(
            self._bus_config, SERVICE, persistent=False, store=self.topics.store
        )
        self.feed.subscribe(bus, self.topics)
        if self._poller is not None:
            self._poller.start()
        self._watch.start()
        self.server.start()
        return self

    def _watch_bus(self) -> None:
        last = ""
        while not self._stop.wait(BUS_STATUS_POLL_S):
            now = "connected" if self._bus is not None and self._bus.connected else "offline"
            if now != last:
                self.hub.set_bus_status(now)
                last = now

    def stop(self) -> None:
        self._stop.set()
        self.server.stop()
        if self._poller is not None:
            self._poller.stop()
        if self._bus is not None:
            self._bus.close(drain_timeout_s=2.0)
            self._bus = None
        if self._watch.is_alive():
            self._watch.join(timeout=2)

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
