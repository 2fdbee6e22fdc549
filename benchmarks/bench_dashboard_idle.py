"""Idle sockets against the dashboard's web server, beside a plain ``http.server`` baseline.

Someone on the shop network opens N sockets to the dashboard and leaves them idle.
The baseline is what the dashboard was before issue 18: the stdlib
``ThreadingHTTPServer`` (one thread per connection). For each server this opens the
sockets, waits, counts the process's threads, then times 20 ``GET /api/state``
requests (median) while the sockets are held, and counts how many of the sockets the
server has closed by then.

    python benchmarks/bench_dashboard_idle.py [--sockets 400]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from positioning.layout import load_layout
from presence.dashboard.hub import DashboardHub
from presence.dashboard.server import DashboardServer
from presence.dashboard.state import DashboardState

STORE = Path(__file__).resolve().parent.parent / "examples" / "stores" / "fashion.toml"
WAIT_S = 1.0


@contextmanager
def plain_server(hub: DashboardHub) -> Iterator[tuple[int, dict[str, str]]]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = json.dumps(hub.snapshot()).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1]), {}
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def dashboard_server(hub: DashboardHub) -> Iterator[tuple[int, dict[str, str]]]:
    with DashboardServer(hub, load_layout(STORE), port=0) as server:
        yield server.port, {"Authorization": f"Bearer {server.access.token}"}


def closed_by_server(sockets: list[socket.socket]) -> int:
    closed = 0
    for s in sockets:
        s.setblocking(False)
        try:
            closed += s.recv(1) == b""
        except (BlockingIOError, ConnectionResetError):
            closed += 0
    return closed


def measure(serve: Callable[[DashboardHub], Any], n: int) -> dict[str, Any]:
    hub = DashboardHub(DashboardState(30.0, 20.0, ()))
    with serve(hub) as (port, headers):
        before = threading.active_count()
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
        time.sleep(WAIT_S)
        threads = threading.active_count()
        times = []
        for _ in range(20):
            began = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/api/state", headers=headers)
            assert conn.getresponse().read()
            conn.close()
            times.append(time.perf_counter() - began)
        closed = closed_by_server(held)
        for s in held:
            s.close()
    return {
        "threads_before": before,
        "threads_idle": threads,
        "get_ms": 1000 * statistics.median(times),
        "closed": closed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sockets", type=int, default=400)
    args = ap.parse_args()
    rows = [
        ("http.server (baseline)", measure(plain_server, args.sockets)),
        ("Starlette + uvicorn", measure(dashboard_server, args.sockets)),
    ]
    print(f"{args.sockets} idle sockets held, then 20 GET /api/state (median)\n")
    print(
        "| server | threads before | threads with idle sockets | GET median | idle sockets closed by the server |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, r in rows:
        print(
            f"| {name} | {r['threads_before']} | {r['threads_idle']} | "
            f"{r['get_ms']:.1f} ms | {r['closed']} |"
        )


if __name__ == "__main__":
    main()
