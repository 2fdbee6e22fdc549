"""HTTP server of the staff dashboard: the static page, the layout as JSON, and a
Server-Sent Events stream of the live state.

Stdlib only (``ThreadingHTTPServer``): one thread per open page, which is plenty for
the handful of staff tablets of a store, and nothing to build or install. The page
gets a full snapshot at most every :data:`MIN_PUSH_INTERVAL_S`, so a reconnecting
page needs no replay of missed updates and a burst of bus messages costs one push.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from positioning.layout import Layout
from positioning.walkable import DEFAULT_STREET_DEPTH_M
from presence.dashboard.state import DashboardState
from presence.errors import UsageError

log = logging.getLogger(__name__)

#: Where index.html, app.js and style.css live (shipped as package data).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: Coalesce bursts: at most this many pushes per second reach a page (5 Hz looks
#: smooth for walking people with a CSS transition and costs little on a tablet).
MIN_PUSH_INTERVAL_S = 0.2

#: A comment line keeps idle connections open through proxies (they cut at 30-60 s).
KEEPALIVE_S = 15.0

#: The heatmap changes slowly; send it this often, not with every snapshot.
HEATMAP_INTERVAL_S = 2.0

STATIC_FILES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/app.js": "app.js",
    "/style.css": "style.css",
}


class DashboardHub:
    """The state behind a lock, with a condition the SSE streams wait on."""

    def __init__(self, state: DashboardState) -> None:
        self._state = state
        self._cond = threading.Condition()
        self.bus_status = "connecting"
        self.closed = False

    def update(self, fn: Callable[[DashboardState], None]) -> None:
        with self._cond:
            fn(self._state)
            self._cond.notify_all()

    def set_bus_status(self, status: str) -> None:
        with self._cond:
            self.bus_status = status
            self._state.version += 1
            self._cond.notify_all()

    def wait_newer(self, version: int, timeout_s: float) -> int:
        """Block until the state's version passes ``version`` (or timeout); return the version."""
        with self._cond:
            self._cond.wait_for(lambda: self._state.version > version or self.closed, timeout_s)
            return self._state.version

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            self._state.expire()
            snap = self._state.snapshot()
            snap["bus"] = self.bus_status
            return snap

    def heatmap(self) -> dict[str, Any]:
        with self._cond:
            return self._state.heatmap()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in STATIC_FILES:
            self._static(STATIC_FILES[path])
        elif path == "/api/layout":
            self._json(self.server.layout_doc)
        elif path == "/api/state":
            self._json(self.server.hub.snapshot())
        elif path == "/api/heatmap":
            self._json(self.server.hub.heatmap())
        elif path == "/api/stream":
            self._stream()
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, doc: Any) -> None:
        self._send(HTTPStatus.OK, json.dumps(doc).encode(), "application/json")

    def _static(self, name: str) -> None:
        path = STATIC_DIR / name
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, path.read_bytes(), f"{ctype}; charset=utf-8")

    def _stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self._pump(self.server.hub)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.debug("dashboard stream closed by %s", self.address_string())

    def _pump(self, hub: DashboardHub) -> None:
        self._event("layout", self.server.layout_doc)
        version = -1
        heat_due = 0.0
        while not hub.closed and not self.server.stopping.is_set():
            newer = hub.wait_newer(version, KEEPALIVE_S)
            if newer == version:
                self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()
                continue
            version = newer
            self._event("state", hub.snapshot())
            if time.monotonic() >= heat_due:
                self._event("heatmap", hub.heatmap())
                heat_due = time.monotonic() + HEATMAP_INTERVAL_S
            self.server.stopping.wait(MIN_PUSH_INTERVAL_S)

    def _event(self, name: str, doc: Any) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(doc)}\n\n".encode())
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: DashboardHub, layout: Layout) -> None:
        super().__init__(address, _Handler)
        self.hub = hub
        self.layout_doc = layout_json(layout)
        self.stopping = threading.Event()


class DashboardServer:
    """Serves the dashboard in a background thread; ``url`` once started, ``stop()`` to end."""

    def __init__(
        self, hub: DashboardHub, layout: Layout, host: str = "127.0.0.1", port: int = 8000
    ):
        self.hub = hub
        try:
            self._httpd = _Server((host, port), hub, layout)
        except OSError as e:
            raise UsageError(
                f"cannot serve the dashboard on {host}:{port}: {e.strerror}; try --port"
            ) from e
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="dashboard-http", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DashboardServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd.stopping.is_set():
            return
        self._httpd.stopping.set()
        self.hub.close()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
