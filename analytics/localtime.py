"""Stores in their own time zones: which local day of the week and hour each UTC hour of a
store-day is.

The archive and its daily table keep UTC (days are UTC dates, hours UTC hours); a chain
spans time zones, and "Saturday at 11" means the store's own Saturday morning. Each store's
zone comes from ``--timezone`` (one IANA name for every store, or ``store=zone`` pairs), else
from ``ARCHIVE/timezones.toml`` (``store-01 = "Europe/Paris"``), else UTC.

:func:`local_hours` is a small table, (store, day_n, hour) -> (dow, local_hour, weight),
computed here with :mod:`zoneinfo` (daylight saving included) and joined by the queries: an
engine's SQL never needs time-zone support. An hour bin is placed by the local time of its
start, so zones with a half-hour offset (India, +05:30) are placed 30 minutes early; the
daily table's bins are whole UTC hours.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from analytics.errors import AnalyticsError

__all__ = ["TIMEZONES_FILE", "UTC", "StoreZones", "local_hours", "store_zones"]

UTC = "UTC"
#: Optional file beside an archive's partitions: ``store = "IANA zone"`` per line.
TIMEZONES_FILE = "timezones.toml"


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise AnalyticsError(
            f"{where}: unknown time zone {name!r} (an IANA name such as Europe/Paris)"
        ) from e


class StoreZones:
    """Each store's time zone (``default`` for stores not named)."""

    def __init__(self, default: str = UTC, per_store: dict[str, str] | None = None) -> None:
        self.default = default
        self.per_store = dict(per_store or {})

    def of(self, store: str) -> str:
        return self.per_store.get(store, self.default)

    def label(self, stores: tuple[str, ...]) -> str:
        """'UTC', 'Europe/Paris', or 'local time of each store' when they differ."""
        names = {self.of(s) for s in stores} or {self.default}
        return names.pop() if len(names) == 1 else "local time of each store"


def store_zones(flag: str | None, archive_root: Path | None = None) -> StoreZones:
    """Zones from the ``--timezone`` flag (``Europe/Paris`` or ``a=Europe/Paris,b=UTC``),
    then ``ARCHIVE/timezones.toml``; every name is checked."""
    per_store: dict[str, str] = {}
    default = UTC
    file = archive_root / TIMEZONES_FILE if archive_root is not None else None
    if file is not None and file.is_file():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise AnalyticsError(f"{file}: not TOML: {e}") from e
        for store, name in data.items():
            if not isinstance(name, str):
                raise AnalyticsError(f"{file}: {store}: a time zone name must be a string")
            _zone(name, f"{file}: {store}")
            per_store[store] = name
    # the flag wins: a bare zone in it is every store's, replacing the file's
    pairs: dict[str, str] = {}
    for item in (flag or "").split(","):
        item = item.strip()
        if not item:
            continue
        store, sep, name = item.rpartition("=")
        _zone(name, f"--timezone {item}")
        if sep:
            pairs[store.strip()] = name
        else:
            default, per_store = name, {}
    per_store |= pairs
    return StoreZones(default, per_store)


def local_hours(store_days: list[tuple[str, int]], zones: StoreZones) -> pa.Table:
    """For each (store, day_n) and UTC hour 0-23: the local day of the week (0 Monday), the
    local hour, and ``weight`` = 1/24 (the share of a store-day it stands for, so a sum of
    weights counts store-days whatever the offset)."""
    cols: dict[str, list[object]] = {k: [] for k in ("store", "day_n", "hour", "dow", "local_hour")}
    zone_of = {s: ZoneInfo(zones.of(s)) for s, _ in store_days}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for store, day_n in store_days:
        tz = zone_of[store]
        for hour in range(24):
            local = (epoch + dt.timedelta(days=int(day_n), hours=hour)).astimezone(tz)
            cols["store"].append(store)
            cols["day_n"].append(int(day_n))
            cols["hour"].append(hour)
            cols["dow"].append(local.weekday())
            cols["local_hour"].append(local.hour)
    n = len(cols["store"])
    return pa.table(
        {
            "store": pa.array(cols["store"], pa.string()),
            "day_n": pa.array(cols["day_n"], pa.int64()),
            "hour": pa.array(cols["hour"], pa.int64()),
            "dow": pa.array(cols["dow"], pa.int64()),
            "local_hour": pa.array(cols["local_hour"], pa.int64()),
            "weight": pa.array([1.0 / 24] * n, pa.float64()),
        }
    )
