"""Who may see the dashboard: a per-run token, an optional store password, signed sessions.

As in Jupyter, each start makes a random token and prints a link carrying it; opening
the link trades the token for a session cookie and redirects to a clean address, so
the token does not stay in the address bar or the history. For a store, a password
(from a file or the environment, never the command line, where ``ps`` shows it) lets
staff log in on a tablet without the console's link. Sessions are signed with a key
made at start, so a restart logs everyone out and nothing is stored on disk.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from presence.errors import UsageError

__all__ = [
    "PASSWORD_ENV",
    "MIN_PASSWORD_CHARS",
    "SESSION_S",
    "LOGIN_FAILURES_ALLOWED",
    "LOGIN_WINDOW_S",
    "THROTTLE_ADDRESSES",
    "LOOPBACK_NAMES",
    "is_loopback",
    "host_of",
    "host_allowed",
    "read_password",
    "LoginThrottle",
    "Access",
]


#: Environment variable holding the store password (``--password-file`` is the other way).
PASSWORD_ENV = "INSTORE_DASHBOARD_PASSWORD"

#: A password typed on a shop floor tablet, attacked online at most
#: :data:`LOGIN_FAILURES_ALLOWED` times a minute per address: 12 characters leave
#: far more guesses than a year of that rate.
MIN_PASSWORD_CHARS = 12

#: A session lasts one shift; after that staff log in again (or open a fresh link).
SESSION_S = 12 * 3600.0

#: Failed logins an address may make per :data:`LOGIN_WINDOW_S` before it gets 429.
LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_S = 60.0
#: Addresses remembered by the throttle (oldest forgotten first): bounded memory.
THROTTLE_ADDRESSES = 4096

#: Hosts that name this machine and that no outside DNS answer can point elsewhere.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8000`` -> ``::1``), lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str, names: frozenset[str]) -> bool:
    """The DNS-rebinding check: an IP literal, a loopback name or a configured name.

    A rebinding attack needs a name the attacker's DNS answers for; an IP literal
    cannot be one (the attacker never served a page from that origin).
    """
    host = host_of(header)
    if not host:
        return False
    if host in LOOPBACK_NAMES or host in names:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def read_password(path: Path | None) -> str | None:
    """The store password: the first line of ``path``, else $INSTORE_DASHBOARD_PASSWORD."""
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"--password-file: cannot read {path}: {e}") from None
        password = lines[0] if lines else ""
        where = f"--password-file {path}"
    else:
        password = os.environ.get(PASSWORD_ENV, "")
        where = f"${PASSWORD_ENV}"
        if not password:
            return None
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(
            f"{where}: the dashboard password must have at least {MIN_PASSWORD_CHARS} characters"
        )
    return password


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class LoginThrottle:
    """Counts failed logins per client address; too many in a window means 429."""

    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def blocked(self, address: str) -> bool:
        times = self._failures.get(address)
        if not times:
            return False
        while times and self.clock() - times[0] > LOGIN_WINDOW_S:
            times.popleft()
        return len(times) >= LOGIN_FAILURES_ALLOWED

    def failed(self, address: str) -> None:
        self._failures.setdefault(address, deque(maxlen=LOGIN_FAILURES_ALLOWED)).append(
            self.clock()
        )
        self._failures.move_to_end(address)
        while len(self._failures) > THROTTLE_ADDRESSES:
            self._failures.popitem(last=False)


class Access:
    """The secrets of one run: token, optional password, and the session signing key."""

    def __init__(
        self,
        password: str | None = None,
        *,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self._token_digest = _digest(self.token)
        self._password_digest = None if password is None else _digest(password)
        self._key = secrets.token_bytes(32)
        self.clock = clock
        self.throttle = LoginThrottle()

    @property
    def has_password(self) -> bool:
        return self._password_digest is not None

    def token_ok(self, candidate: str) -> bool:
        return hmac.compare_digest(_digest(candidate), self._token_digest)

    def password_ok(self, candidate: str) -> bool:
        if self._password_digest is None:
            return False
        return hmac.compare_digest(_digest(candidate), self._password_digest)

    def new_session(self) -> str:
        """A cookie value: its expiry, signed with this run's key."""
        expires = str(int(self.clock() + SESSION_S))
        return f"{expires}.{self._sign(expires)}"

    def session_ok(self, cookie: str) -> bool:
        expires, _, signature = cookie.partition(".")
        if not expires.isdigit() or not hmac.compare_digest(signature, self._sign(expires)):
            return False
        return int(expires) > self.clock()

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()
