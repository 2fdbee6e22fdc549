"""Serves the dashboard's web application with uvicorn, in a background thread.

uvicorn runs the whole server on one asyncio loop: an open page, an idle socket or a
slow client costs a file descriptor and a few kilobytes, never a thread. Two guards
uvicorn lacks are added to its HTTP/1.1 protocol (:func:`guarded_protocol`): a cap on
open connections (the oldest idle one makes room for a new one), and a deadline for a
request's head, so sockets that connect and send nothing (or a byte a minute) are
closed instead of held forever.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from positioning.layout import Layout
from presence.dashboard.auth import Access, is_loopback
from presence.dashboard.hub import DashboardHub, layout_json
from presence.dashboard.web import DashboardWeb
from presence.errors import UsageError

__all__ = [
    "GRACEFUL_STOP_S",
    "START_TIMEOUT_S",
    "Limits",
    "guarded_protocol",
    "DashboardServer",
]


log = logging.getLogger(__name__)

#: How long ``stop()`` lets open streams finish before closing them.
GRACEFUL_STOP_S = 3.0
#: How long ``start()`` waits for the server to listen.
START_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may hold; defaults sized for a store's handful of tablets."""

    max_connections: int = 256  # beyond this, the oldest idle connection is closed
    request_head_s: float = (
        10.0  # a request's head must arrive within this of connect or of the last answer
    )
    keep_alive_s: int = 5  # uvicorn's idle keep-alive timeout between requests


def guarded_protocol(limits: Limits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a connection cap and a request-head deadline.

    At the cap, a new connection pushes out the oldest *idle* one (no request under
    way), so sockets held open by someone else cannot lock staff out; only when every
    connection is busy is the new one refused.
    """
    last_warning = [-math.inf]

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _armed_cycle: object = None
        _opened_s = 0.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._opened_s = self.loop.time()
            if len(self.connections) > limits.max_connections and not self._evict_idle():
                transport.close()
                return
            self._arm()

        def _idle(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _evict_idle(self) -> bool:
            """Close the oldest idle connection but this one; False when none is idle."""
            idle = [
                c
                for c in self.connections
                if c is not self
                and isinstance(c, GuardedH11Protocol)
                and c._idle()
                and not c.transport.is_closing()
            ]
            now = self.loop.time()
            if now - last_warning[0] > 10.0:
                last_warning[0] = now
                log.warning(
                    "dashboard: %d connections open (cap %d); %s",
                    len(self.connections),
                    limits.max_connections,
                    "closing the oldest idle ones" if idle else "refusing new ones",
                )
            if not idle:
                return False
            min(idle, key=lambda c: c._opened_s).transport.close()
            return True

        def _arm(self) -> None:
            self._disarm()
            self._armed_cycle = self.cycle
            self._deadline = self.loop.call_later(limits.request_head_s, self._on_deadline)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _on_deadline(self) -> None:
            if self._idle() and self.cycle is self._armed_cycle and not self.transport.is_closing():
                self.transport.close()  # no complete request head in time

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as e:
        raise UsageError(
            f"cannot serve the dashboard on {host}:{port}: {e.strerror}; try --port"
        ) from e


def _display_host(host: str) -> str:
    """The host of the printed link: a wildcard address is opened as loopback here."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class DashboardServer:
    """The web app on ``host:port``; ``start()``, ``url`` (with the token), ``stop()``.

    Binding to an address other than loopback serves the page to the network, so it
    needs a password (a token printed on one console is not a way for staff to log in).
    """

    def __init__(
        self,
        hub: DashboardHub,
        layout: Layout,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        password: str | None = None,
        allowed_hosts: tuple[str, ...] = (),
        limits: Limits = Limits(),
    ) -> None:
        if not is_loopback(host) and password is None:
            raise UsageError(
                f"--host {host} serves the dashboard to the network: set a password first "
                "($INSTORE_DASHBOARD_PASSWORD or --password-file; see docs/security.md)"
            )
        self.hub = hub
        self.access = Access(password)
        self._sock = _listen(host, port)
        self.port = int(self._sock.getsockname()[1])
        names = {h.lower() for h in allowed_hosts}
        if not is_loopback(host):
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.web = DashboardWeb(
            hub,
            layout_json(layout),
            self.access,
            allowed_hosts=frozenset(names),
            cookie_name=f"instore_session_{self.port}",  # cookies ignore ports; two servers must not clash
        )
        config = uvicorn.Config(
            self.web.asgi(),
            http=guarded_protocol(limits),
            ws="none",
            lifespan="off",
            loop="asyncio",
            proxy_headers=False,
            server_header=False,
            access_log=False,
            log_config=None,
            timeout_keep_alive=limits.keep_alive_s,
            timeout_graceful_shutdown=int(GRACEFUL_STOP_S),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="dashboard-http", daemon=True)
        self.base_url = f"http://{_display_host(host)}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: it carries the run's token, traded for a cookie on arrival."""
        return f"{self.base_url}/?token={self.access.token}"

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self) -> DashboardServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise UsageError("the dashboard's web server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.hub.close()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=GRACEFUL_STOP_S + 2)
        self._sock.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
