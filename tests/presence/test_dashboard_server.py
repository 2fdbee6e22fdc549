"""The dashboard's web server: pages, layout, state and stream, behind its guards.

Issue 18, finding 6 (the dashboard trusted everyone): each guard has a test here that
failed on the former ``http.server`` and passes now: authentication (token link,
password, signed session), the Host check against DNS rebinding, security headers,
bounded idle connections, and no raw ids on the wire.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from positioning.events import STORE_ENTER, PresenceEvent
from positioning.layout import load_layout
from presence.dashboard.auth import LOGIN_FAILURES_ALLOWED, MIN_PASSWORD_CHARS
from presence.dashboard.hub import DashboardHub
from presence.dashboard.server import DashboardServer, Limits
from presence.dashboard.state import DashboardState, PositionUpdate, StaffAlert
from presence.errors import UsageError

T0 = 1_790_000_000.0
PASSWORD = "correct horse battery"
DATA_PATHS = ("/api/state", "/api/layout", "/api/heatmap", "/api/stream")


def make_server(fashion_path: Path, **kwargs: object) -> DashboardServer:
    layout = load_layout(fashion_path)
    state = DashboardState(layout.width_m, layout.height_m, tuple(z.name for z in layout.zones))
    return DashboardServer(DashboardHub(state), layout, port=0, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def served(fashion_path: Path) -> Iterator[DashboardServer]:
    with make_server(fashion_path, password=PASSWORD) as server:
        yield server


Answer = tuple[int, dict[str, str], bytes]


def request(
    server: DashboardServer,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    body: str | None = None,
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def session(server: DashboardServer) -> dict[str, str]:
    """Open the printed link like a browser; returns the cookie header it gets."""
    status, headers, _ = request(server, server.url.removeprefix(server.base_url))
    assert status == 303 and headers["location"] == "/"
    return {"Cookie": headers["set-cookie"].split(";")[0]}


def test_the_link_trades_its_token_for_a_cookie_and_the_page_is_served(
    served: DashboardServer,
) -> None:
    cookie = session(served)
    _, headers, _ = request(served, served.url.removeprefix(served.base_url))
    assert "httponly" in headers["set-cookie"].lower()
    assert "samesite=strict" in headers["set-cookie"].lower()
    for path, kind in [("/", "text/html"), ("/app.js", "javascript"), ("/style.css", "text/css")]:
        status, headers, body = request(served, path, cookie)
        assert status == 200 and kind in headers["content-type"] and body
    assert request(served, "/../pyproject.toml", cookie)[0] == 404


def test_nothing_but_the_login_page_without_a_session(served: DashboardServer) -> None:
    for path in DATA_PATHS + ("/app.js",):
        status, _, body = request(served, path)
        assert status == 401 and b"shoppers" not in body and b"demo-fashion" not in body
    status, headers, _ = request(served, "/")
    assert status == 303 and headers["location"] == "/login"
    assert request(served, "/login")[0] == 200
    assert request(served, "/?token=guessed")[0] == 403
    forged = {"Cookie": f"instore_session_{served.port}=9999999999.{'0' * 64}"}
    assert request(served, "/api/state", forged)[0] == 401
    bearer = {"Authorization": f"Bearer {served.access.token}"}
    assert request(served, "/api/state", bearer)[0] == 200, "scripts may send the token"


def login(server: DashboardServer, password: str, origin: str | None = None) -> Answer:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin is not None:
        headers["Origin"] = origin
    body = f"password={password.replace(' ', '+')}"
    return request(server, "/login", headers, method="POST", body=body)


def test_the_store_password_logs_in_and_guessing_is_throttled(served: DashboardServer) -> None:
    status, headers, _ = login(served, PASSWORD, origin=served.base_url)
    assert status == 303
    cookie = {"Cookie": headers["set-cookie"].split(";")[0]}
    assert request(served, "/api/state", cookie)[0] == 200
    assert login(served, PASSWORD, origin="http://attacker.example")[0] == 403
    for _ in range(LOGIN_FAILURES_ALLOWED):
        assert login(served, "not the password")[0] == 401
    assert login(served, PASSWORD)[0] == 429, "even the right password waits after guessing"


def test_a_foreign_host_name_is_refused_dns_rebinding(served: DashboardServer) -> None:
    cookie = session(served)
    for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.nip.io"):
        status, headers, body = request(served, "/api/state", {**cookie, "Host": host})
        assert status == 403 and b"shoppers" not in body
    for host in (f"127.0.0.1:{served.port}", f"localhost:{served.port}", "[::1]", "10.0.0.7"):
        assert request(served, "/api/state", {**cookie, "Host": host})[0] == 200


def test_a_configured_host_name_is_allowed(fashion_path: Path) -> None:
    with make_server(fashion_path, allowed_hosts=("dashboard.store.lan",)) as server:
        bearer = {"Authorization": f"Bearer {server.access.token}"}
        assert request(server, "/api/state", {**bearer, "Host": "dashboard.store.lan"})[0] == 200
        assert request(server, "/api/state", {**bearer, "Host": "other.store.lan"})[0] == 403


def test_every_answer_forbids_framing_sniffing_and_foreign_scripts(
    served: DashboardServer,
) -> None:
    cookie = session(served)
    answers = [
        request(served, "/", cookie),
        request(served, "/api/state", cookie),
        request(served, "/api/state"),
        request(served, "/login"),
        request(served, "/nothing", cookie),
        request(served, "/", {"Host": "attacker.example"}),
    ]
    for _status, headers, _ in answers:
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_serving_to_the_network_needs_a_password(fashion_path: Path) -> None:
    with pytest.raises(UsageError, match="0.0.0.0.*password"):
        make_server(fashion_path, host="0.0.0.0")
    with pytest.raises(UsageError, match="password"):
        make_server(fashion_path, host="::")
    server = make_server(fashion_path, host="0.0.0.0", password=PASSWORD)
    server.stop()
    assert len(PASSWORD) >= MIN_PASSWORD_CHARS


def test_idle_sockets_cost_no_threads_and_are_closed(fashion_path: Path) -> None:
    """400 idle sockets made 408 threads in the old server; now none, and they are closed."""
    limits = Limits(request_head_s=1.0)
    with make_server(fashion_path, limits=limits) as server:
        threads_before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(200)]
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
        time.sleep(0.3)
        assert threading.active_count() - threads_before <= 1
        bearer = {"Authorization": f"Bearer {server.access.token}"}
        began = time.monotonic()
        assert request(server, "/api/state", bearer)[0] == 200
        assert time.monotonic() - began < 2.0, "still answers at once"
        for s in [*idle, slow]:
            s.settimeout(5.0)
            assert s.recv(1) == b"", "the server closed the idle connection"
            s.close()


def test_beyond_the_cap_idle_sockets_make_room_for_staff(fashion_path: Path) -> None:
    with make_server(fashion_path, limits=Limits(max_connections=20)) as server:
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
        bearer = {"Authorization": f"Bearer {server.access.token}"}
        assert request(server, "/api/state", bearer)[0] == 200, "staff still get in"
        time.sleep(0.2)
        closed = 0
        for s in held:
            s.settimeout(0.05)
            with contextlib.suppress(TimeoutError):  # still open: not one of the oldest
                closed += s.recv(1) == b""
            s.close()
        assert closed >= 40 - 20 + 1, "the oldest idle sockets were closed to make room"


def read_sse_event(resp: http.client.HTTPResponse, name: str) -> dict:
    """Read the stream until an event called ``name``; return its data."""
    current = None
    while True:
        line = resp.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            current = line.removeprefix("event: ")
        elif line.startswith("data: ") and current == name:
            return json.loads(line.removeprefix("data: "))


def open_stream(
    server: DashboardServer,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/api/stream", headers={"Authorization": f"Bearer {server.access.token}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type", "").startswith("text/event-stream")
    return conn, resp


def test_layout_json_describes_the_floor(served: DashboardServer) -> None:
    doc = json.loads(request(served, "/api/layout", session(served))[2])
    assert (doc["name"], doc["width"], doc["height"]) == ("demo-fashion", 30.0, 20.0)
    assert len(doc["beacons"]) == 15 and len(doc["zones"]) == 9
    assert all(len(o["polygon"]) >= 3 for o in doc["obstacles"])
    assert doc["entrance"] == [[13.0, 0.0], [17.0, 0.0]]


def test_stream_pushes_the_layout_then_every_state_change(served: DashboardServer) -> None:
    conn, resp = open_stream(served)
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


def test_no_raw_device_or_customer_id_on_the_wire(served: DashboardServer) -> None:
    """The old /api/state and stream carried device ids, customer ids, birthdays."""
    card = {"customer_id": "C000042", "name": "Ada L", "birthday": "12-10", "loyalty_tier": "gold"}

    def visit(s: DashboardState) -> None:
        s.apply_event(PresenceEvent(STORE_ENTER, "x", "dev-7f00d", T0, T0, 15.0, 0.5))
        s.apply_event(PresenceEvent(STORE_ENTER, "x", "dev-ada", T0, T0, 15.0, 0.5))
        s.apply_staff_alert(StaffAlert("dev-ada", T0 + 1, "Ada L", card, ("gold member",)))

    served.hub.update(visit)
    conn, resp = open_stream(served)
    streamed = json.dumps(read_sse_event(resp, "state"))
    conn.close()
    polled = request(served, "/api/state", session(served))[2].decode()
    for wire in (streamed, polled):
        assert "Ada L" in wire and "gold member" in wire
        for secret in ("dev-7f00d", "dev-ada", "C000042", "12-10"):
            assert secret not in wire


def test_stop_ends_open_streams(served: DashboardServer) -> None:
    conn, resp = open_stream(served)
    read_sse_event(resp, "state")
    began = time.monotonic()
    served.stop()
    assert resp.read() is not None
    assert time.monotonic() - began < 3.0
    conn.close()


def test_a_port_in_use_is_a_one_line_error(served: DashboardServer, fashion_path: Path) -> None:
    layout = load_layout(fashion_path)
    with pytest.raises(UsageError, match=f"127.0.0.1:{served.port}.*--port"):
        DashboardServer(served.hub, layout, port=served.port)
