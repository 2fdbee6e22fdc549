"""The dashboard's web application (Starlette): pages, JSON, the SSE stream, and its guards.

Every request passes, outermost first: security headers on every answer (CSP, no
framing, no sniffing, no address sent to other sites), the Host check against DNS
rebinding, then the route, which serves only what a valid session (or the run's token)
may see. Only ``/login`` and the style sheet are public. Everything runs on the event loop
(``async`` routes, files read once at start): no thread per request or per stream.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from presence.dashboard.auth import SESSION_S, Access, host_allowed
from presence.dashboard.hub import DashboardHub

__all__ = [
    "STATIC_DIR",
    "MIN_PUSH_INTERVAL_S",
    "KEEPALIVE_S",
    "HEATMAP_INTERVAL_S",
    "MAX_STREAMS",
    "MAX_LOGIN_BODY",
    "CSP",
    "SECURITY_HEADERS",
    "LOGIN_PAGE",
    "SecurityHeaders",
    "HostCheck",
    "DashboardWeb",
]


#: Where index.html, app.js and style.css live (shipped as package data).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: Coalesce bursts: at most this many pushes per second reach a page (5 Hz looks
#: smooth for walking people with a CSS transition and costs little on a tablet).
MIN_PUSH_INTERVAL_S = 0.2
#: A comment line keeps idle connections open through proxies (they cut at 30-60 s).
KEEPALIVE_S = 15.0
#: The heatmap changes slowly; send it this often, not with every snapshot.
HEATMAP_INTERVAL_S = 2.0
#: Open streams at once: a store has a handful of tablets; more is a client gone wrong.
MAX_STREAMS = 32
#: The login form is one field; anything bigger is not a login.
MAX_LOGIN_BODY = 4096

#: Only our own files, no inline script or style, no framing, forms post only to us.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make POST Origin "null"
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>instore · log in</title><link rel="icon" href="data:,"><link rel="stylesheet" href="style.css">
</head><body><main class="login"><h1>instore staff dashboard</h1>
<p class="login-note">{note}</p>
<form method="post" action="login"><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button></form>
<p class="muted">Or open the link with the token that the dashboard printed when it started.</p>
</main></body></html>
"""


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostCheck:
    """403 for a Host header that is neither an IP literal, loopback, nor configured."""

    def __init__(self, app: ASGIApp, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not host_allowed(host, self.names):
                answer = Response("host not allowed\n", 403, media_type="text/plain")
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


class DashboardWeb:
    """The routes; ``asgi()`` wraps them in the guards."""

    def __init__(
        self,
        hub: DashboardHub,
        layout_doc: dict[str, Any],
        access: Access,
        *,
        allowed_hosts: frozenset[str] = frozenset(),
        cookie_name: str = "instore_session",
    ) -> None:
        self.hub = hub
        self.layout_doc = layout_doc
        self.access = access
        self.allowed_hosts = allowed_hosts
        self.cookie = cookie_name
        self.streams = 0
        self.files = {
            n: (STATIC_DIR / n).read_bytes() for n in ("index.html", "app.js", "style.css")
        }

    def asgi(self) -> ASGIApp:
        routes = [
            Route("/", self.index),
            Route("/index.html", self.index),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/app.js", self.app_js),
            Route("/style.css", self.style_css),
            Route("/api/layout", self.api_layout),
            Route("/api/state", self.api_state),
            Route("/api/heatmap", self.api_heatmap),
            Route("/api/stream", self.api_stream),
        ]
        app = Starlette(routes=routes)
        return SecurityHeaders(HostCheck(app, self.allowed_hosts))

    # --- who is asking -------------------------------------------------------------

    def signed_in(self, request: Request) -> bool:
        cookie = request.cookies.get(self.cookie)
        if cookie is not None and self.access.session_ok(cookie):
            return True
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.access.token_ok(credential.strip())

    def _with_session(self, response: Response) -> Response:
        response.set_cookie(
            self.cookie,
            self.access.new_session(),
            max_age=int(SESSION_S),
            httponly=True,
            samesite="strict",
            path="/",
        )
        return response

    # --- pages ---------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:
            if not self.access.token_ok(token):
                return self._login(
                    403, "That link's token is not valid (was the dashboard restarted?)."
                )
            # Trade the token for a cookie and drop it from the address bar and history.
            return self._with_session(RedirectResponse("/", 303))
        if not self.signed_in(request):
            return RedirectResponse("/login", 303)
        return Response(self.files["index.html"], media_type="text/html; charset=utf-8")

    async def app_js(self, request: Request) -> Response:
        if not self.signed_in(request):
            return _unauthorized()
        return Response(self.files["app.js"], media_type="text/javascript; charset=utf-8")

    async def style_css(self, request: Request) -> Response:
        return Response(self.files["style.css"], media_type="text/css; charset=utf-8")

    async def login_page(self, request: Request) -> Response:
        return self._login(200, "")

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            return self._login(403, "Log in from the dashboard's own page.")
        if not self.access.has_password:
            return self._login(403, "This dashboard has no password: use the link it printed.")
        if self.access.throttle.blocked(client):
            return self._login(429, "Too many attempts: wait a minute.")
        body = await _read_limited(request, MAX_LOGIN_BODY)
        fields = parse_qs(body.decode("utf-8", "replace")) if body is not None else {}
        if self.access.password_ok(fields.get("password", [""])[0]):
            return self._with_session(RedirectResponse("/", 303))
        self.access.throttle.failed(client)
        return self._login(401, "Wrong password.")

    def _login(self, status: int, note: str) -> Response:
        page = LOGIN_PAGE.format(note=html.escape(note))
        return Response(page, status, media_type="text/html; charset=utf-8")

    # --- data ----------------------------------------------------------------------

    async def api_layout(self, request: Request) -> Response:
        return JSONResponse(self.layout_doc) if self.signed_in(request) else _unauthorized()

    async def api_state(self, request: Request) -> Response:
        return JSONResponse(self.hub.snapshot()) if self.signed_in(request) else _unauthorized()

    async def api_heatmap(self, request: Request) -> Response:
        return JSONResponse(self.hub.heatmap()) if self.signed_in(request) else _unauthorized()

    async def api_stream(self, request: Request) -> Response:
        if not self.signed_in(request):
            return _unauthorized()
        if self.streams >= MAX_STREAMS:
            return JSONResponse({"error": "too many open streams"}, 503)
        return StreamingResponse(self._pump(), media_type="text/event-stream")

    async def _pump(self) -> AsyncIterator[bytes]:
        """The layout once, then a snapshot whenever the state moved (at most 5 Hz)."""
        self.streams += 1
        try:
            yield _event("layout", self.layout_doc)
            version, heat_due, quiet_since = -1, 0.0, time.monotonic()
            while not self.hub.closed:
                now = time.monotonic()
                if self.hub.version != version:
                    version = self.hub.version
                    yield _event("state", self.hub.snapshot())
                    if now >= heat_due:
                        yield _event("heatmap", self.hub.heatmap())
                        heat_due = now + HEATMAP_INTERVAL_S
                    quiet_since = now
                elif now - quiet_since >= KEEPALIVE_S:
                    yield b": keepalive\n\n"
                    quiet_since = now
                await asyncio.sleep(MIN_PUSH_INTERVAL_S)
        finally:
            self.streams -= 1


def _unauthorized() -> Response:
    return JSONResponse({"error": "log in first: /login, or the link printed at start"}, 401)


def _event(name: str, doc: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(doc)}\n\n".encode()


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body
