"""Broker users and passwords: Mosquitto's password file, read and checked in Python, and the
per-run credentials the demo generates for its embedded broker.

Hashes are Mosquitto 2's (``mosquitto_passwd``): ``$7$<iterations>$<salt>$<hash>``,
PBKDF2-HMAC-SHA512 with a 12-byte salt and a 64-byte key, base64; the older ``$6$``
(one salted SHA-512) is read too. So ``examples/mosquitto/passwords`` serves the embedded
broker and Mosquitto alike, and a file this module writes is one Mosquitto reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from presence.errors import PresenceError
from presence.transport.busconfig import BusConfig

__all__ = [
    "CredentialsError",
    "hash_password",
    "read_password_file",
    "ROLES",
    "RunCredentials",
    "verify_password",
]

#: The broker users of transport.access.STANDARD_ACL, one per role.
ROLES = ("gateway", "replay", "engine", "crm", "dashboard", "analyst", "operator")
#: mosquitto_passwd's defaults (Mosquitto 2.0, src/password_mosq.c).
_PBKDF2_ITERATIONS = 101
_SALT_BYTES = 12
_KEY_BYTES = 64
#: A generated password: 192 bits, the strength of the dashboard's per-run token.
_PASSWORD_BYTES = 24


class CredentialsError(PresenceError):
    """A password file line cannot be used; names the file and line."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto ``$7$`` hash of ``password`` (random salt unless given)."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac(
        "sha512", password.encode("utf-8"), salt, _PBKDF2_ITERATIONS, _KEY_BYTES
    )
    b64 = base64.b64encode
    return f"$7${_PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Does ``password`` match a ``$7$`` or ``$6$`` hash? False for anything unreadable."""
    parts = hashed.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            iterations = int(parts[2])
            salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
            if not 0 < iterations <= 10_000_000:
                return False
            got = hashlib.pbkdf2_hmac(
                "sha512", password.encode("utf-8"), salt, iterations, len(want)
            )
        elif len(parts) == 4 and parts[1] == "6":
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.sha512(password.encode("utf-8") + salt).digest()
        else:
            return False
    except ValueError:  # bad base64 or iteration count
        return False
    return hmac.compare_digest(got, want)


def read_password_file(path: Path | str) -> dict[str, str]:
    """``user:hash`` lines (``mosquitto_passwd`` output) -> {user: hash}."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CredentialsError(f"{path}: cannot read the password file: {e}") from None
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed.startswith(("$7$", "$6$")):
            raise CredentialsError(
                f"{path}:{number}: expected user:$7$... (made by mosquitto_passwd)"
            )
        users[user] = hashed
    if not users:
        raise CredentialsError(f"{path}: no users")
    return users


@dataclass(frozen=True, slots=True)
class RunCredentials:
    """A random password per role, made for one run and never written to disk."""

    passwords: Mapping[str, str] = field(repr=False)  # never in a log or traceback

    @classmethod
    def generate(cls, roles: tuple[str, ...] = ROLES) -> RunCredentials:
        return cls({role: secrets.token_urlsafe(_PASSWORD_BYTES) for role in roles})

    def hashed(self) -> dict[str, str]:
        """{user: hash}: what the broker keeps (it never needs the passwords themselves)."""
        return {role: hash_password(pw) for role, pw in self.passwords.items()}

    def bus_config(self, url: str, role: str) -> BusConfig:
        """How a service of ``role`` connects to the broker at ``url``."""
        if role not in self.passwords:
            raise CredentialsError(
                f"no credentials for role {role!r}; roles: {sorted(self.passwords)}"
            )
        return BusConfig(url, username=role, password=self.passwords[role])
