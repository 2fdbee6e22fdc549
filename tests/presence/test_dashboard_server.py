"""The dashboard's HTTP server: static page, layout JSON, state and the SSE stream."""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from positioning.events import STORE_ENTER, PresenceEvent
from positioning.layout import load_layout
from presence.dashboard.server import DashboardHub, DashboardServer
from presence.dashboard.state import DashboardState, PositionUpdate
from presence.errors import UsageError

T0 = 1_790_000_000.0


@pytest.fixture
def served(fashion_path: Path) -> Iterator[DashboardServer]:
    layout = load_layout(fashion_path)
    state = DashboardState(layout.width_m, layout.height_m, tuple(z.name for z in layout.zones))
    with DashboardServer(DashboardHub(state), layout, port=0) as server:
        yield server


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers["Content-Type"], r.read()


def test_page_and_assets_are_served(served: DashboardServer) -> None:
    for path, kind in [("/", "text/html"), ("/app.js", "javascript"), ("/style.css", "text/css")]:
        status, ctype, body = get(served.url + path)
        assert status == 200 and kind in ctype and body
    with pytest.raises(urllib.error.HTTPError) as e:
        get(served.url + "/../pyproject.toml")
    assert e.value.code == 404
    e.value.close()


def test_layout_json_describes_the_floor(served: DashboardServer) -> None:
    doc = json.loads(get(served.url + "/api/layout")[2])
    assert (doc["name"], doc["width"], doc["height"]) == ("demo-fashion", 30.0, 20.0)
    assert len(doc["beacons"]) == 15 and len(doc["zones"]) == 9
    assert all(len(o["polygon"]) >= 3 for o in doc["obstacles"])
    assert doc["entrance"] == [[13.0, 0.0], [17.0, 0.0]]


def read_sse_event(resp: http.client.HTTPResponse, name: str) -> dict:
    """Read the stream until an event called ``name``; return its data."""
    current = None
    while True:
        line = resp.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            current = line.removeprefix("event: ")
        elif line.startswith("data: ") and current == name:
            return json.loads(line.removeprefix("data: "))


def test_stream_pushes_the_layout_then_every_state_change(served: DashboardServer) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/api/stream")
    resp = conn.getresponse()
    assert resp.getheader("Content-Type") == "text/event-stream"
    assert read_sse_event(resp, "layout")["name"] == "demo-fashion"
    assert read_sse_event(resp, "state")["in_store"] == 0
    served.hub.update(
        lambda s: s.apply_event(PresenceEvent(STORE_ENTER, "x", "d1", T0, T0, 15.0, 0.5))
    )
    served.hub.update(lambda s: s.apply_position(PositionUpdate("d1", T0 + 1, 15.0, 2.0)))
    snap = read_sse_event(resp, "state")
    while snap["shoppers"] and snap["shoppers"][0]["y"] != 2.0:
        snap = read_sse_event(resp, "state")
    assert snap["in_store"] == 1 and snap["shoppers"][0]["x"] == 15.0
    conn.close()


def test_stop_ends_open_streams(served: DashboardServer) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/api/stream")
    resp = conn.getresponse()
    read_sse_event(resp, "state")
    served.stop()
    assert resp.read() is not None


def test_a_port_in_use_is_a_one_line_error(served: DashboardServer, fashion_path: Path) -> None:
    layout = load_layout(fashion_path)
    port = int(served.url.rsplit(":", 1)[1])
    with pytest.raises(UsageError, match=f"127.0.0.1:{port}.*--port"):
        DashboardServer(served.hub, layout, port=port)
