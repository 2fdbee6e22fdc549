"""The validity rules at the edge: ids (device, beacon, store), reading times and RSSI.

Every entry point (observation logs, MQTT payloads, layouts) checks with these, so a value
accepted anywhere is accepted everywhere, and one hostile value is rejected with a reason
instead of breaking something downstream.

Ids become MQTT topic levels, Parquet columns, file names in the archive and labels on the
dashboard, so one rule serves all: non-empty, printable (no control characters, NUL
included), none of the topic separator or wildcards ``/ + #``, no leading or trailing
space, and at most :data:`MAX_ID_CHARS` characters. 128 holds every id scheme seen in the
field (ESPresense's ``iBeacon:<uuid>-<major>-<minor>`` is 50; Eddystone namespace+instance
in hex is 32) with room to spare, while bounding what one hostile id can cost: a topic,
a Parquet string column sized by its longest value, a dashboard row.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "EARLIEST_T_S",
    "LATEST_T_S",
    "MAX_ID_CHARS",
    "RSSI_MAX_DBM",
    "RSSI_MIN_DBM",
    "id_problem",
    "rssi_is_valid",
    "rssi_ok",
    "time_problem",
]

MAX_ID_CHARS = 128
#: The MQTT topic separator and wildcards (MQTT 5 section 4.7): never inside one level.
TOPIC_RESERVED = frozenset("/+#")


#: Reading times are Unix epoch seconds after 1970-01-01 and before 2100-01-01 UTC. A time of
#: 0 or below is an unset clock; 2100 and later (or 1e300) is a broken one. Within the window,
#: a live stream also rejects readings far ahead of its own clock (see presence's engine).
EARLIEST_T_S = 0.0
LATEST_T_S = 4_102_444_800.0


#: Valid RSSI range in dBm. BLE reports a signed byte; 127 means "not available"
#: (Bluetooth Core 5.x, Vol 4 Part E 7.7.65.2) and values >= 0 dBm are not received power.
RSSI_MIN_DBM = -127.0
RSSI_MAX_DBM = 0.0  # exclusive


def rssi_ok(rssi_dbm: float) -> bool:
    """True if ``rssi_dbm`` is a usable received power: finite, >= -127 and < 0 dBm (NaN and
    infinities fail the comparison). The one RSSI rule: logs, MQTT payloads, ESPresense
    reports and the scanner all use it (or :func:`rssi_is_valid`, its array form)."""
    return RSSI_MIN_DBM <= rssi_dbm < RSSI_MAX_DBM


def rssi_is_valid(rssi_dbm: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """:func:`rssi_ok` element-wise: True where an RSSI is a usable received power."""
    r = np.asarray(rssi_dbm, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (r >= RSSI_MIN_DBM) & (r < RSSI_MAX_DBM)


def time_problem(t_s: float) -> str | None:
    """Why ``t_s`` cannot be a reading's time, or None if it can."""
    if not EARLIEST_T_S < t_s < LATEST_T_S:
        return f"time {t_s!r} is outside (1970-01-01, 2100-01-01)"
    return None


def id_problem(value: object) -> str | None:
    """Why ``value`` cannot be an id, or None if it can."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_CHARS:
        return f"has {len(value)} characters, at most {MAX_ID_CHARS} allowed"
    if not value.isprintable():
        return "contains a control or non-printable character"
    if TOPIC_RESERVED.intersection(value):
        return "contains / + or # (MQTT topic separator or wildcard)"
    if value != value.strip():
        return "has leading or trailing spaces"
    return None
