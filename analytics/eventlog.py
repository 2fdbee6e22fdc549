"""Reading ``events.jsonl`` (CloudEvents, one per line) into interval frames, fast.

A day's file holds hundreds of thousands of events. Arrow's JSON reader parses it in one
multi-threaded pass and the contract of ARCHITECTURE 3.3 is checked column-wise; only a
file that fails somewhere is read again line by line
(:func:`analytics.intervals.read_events_jsonl`), which names each bad line and skips it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from analytics.intervals import EventIntervals, empty_intervals, make_intervals, read_events_jsonl
from positioning.events import (
    CLOSING_TYPES,
    DWELL_END,
    EVENT_TYPES,
    SPECVERSION,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_EXIT,
    ZONE_TYPES,
)

#: The fields analytics needs; others are ignored.
EVENT_SCHEMA = pa.schema(
    [
        ("specversion", pa.string()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("type", pa.string()),
        ("time", pa.string()),
        ("subject", pa.string()),
        (
            "data",
            pa.struct(
                [
                    ("x", pa.float64()),
                    ("y", pa.float64()),
                    ("detected_at", pa.float64()),
                    ("zone", pa.string()),
                    ("duration_s", pa.float64()),
                ]
            ),
        ),
    ]
)
#: detected_at may precede time by rounding to the millisecond only (positioning.events).
DETECTED_SLACK_S = 1e-3


def read_events(path: str) -> EventIntervals:
    """Intervals from an events.jsonl; vectorised when the whole file follows the contract."""
    frame = _parse(path)
    if frame is None:
        return read_events_jsonl(path)
    return intervals_of_frame(frame)


def _parse(path: str) -> pd.DataFrame | None:
    """The events as columns, or None when any line breaks the contract (then go slow)."""
    try:
        table = pajson.read_json(
            path,
            parse_options=pajson.ParseOptions(
                explicit_schema=EVENT_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    if table.num_rows == 0:
        return None
    data = table.column("data").combine_chunks()
    if data.null_count:
        return None
    frame = pd.DataFrame(
        {
            name: table.column(name).to_numpy(zero_copy_only=False)
            for name in ("specversion", "id", "source", "type", "time", "subject")
        }
    )
    for name in ("x", "y", "detected_at", "duration_s"):
        frame[name] = data.field(name).to_numpy(zero_copy_only=False).astype(np.float64)
    frame["zone"] = data.field("zone").to_numpy(zero_copy_only=False)
    stamps = pd.to_datetime(frame["time"], utc=True, format="ISO8601", errors="coerce")
    if stamps.isna().any():
        return None
    # unit-independent (pandas 3 may parse to microseconds, not nanoseconds)
    frame["time_s"] = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    return frame if _valid(frame) else None


def _valid(f: pd.DataFrame) -> bool:
    ok = (f["specversion"] == SPECVERSION) & f["type"].isin(EVENT_TYPES)
    ok &= f["source"].str.startswith("instore/", na=False) & (f["source"].str.len() > 8)
    for name in ("id", "subject"):
        ok &= f[name].notna() & (f[name].str.len() > 0)
    finite = np.isfinite(f[["x", "y", "detected_at"]].to_numpy()).all(axis=1)
    ok &= finite & (f["detected_at"] + DETECTED_SLACK_S >= f["time_s"])
    closing = f["type"].isin(CLOSING_TYPES)
    ok &= ~closing | np.isfinite(f["duration_s"].to_numpy())
    zoned = f["type"].isin(ZONE_TYPES)
    ok &= ~zoned | (f["zone"].notna() & (f["zone"].str.len() > 0))
    return bool(ok.all())


def intervals_of_frame(f: pd.DataFrame) -> EventIntervals:
    """Intervals from an events frame (columns id, type, subject, time_s, zone, duration_s),
    deduplicated by id."""
    unique = f.drop_duplicates("id", keep="first")
    entered = unique.loc[unique["type"].isin([STORE_ENTER, STORE_EXIT]), "subject"]

    def frame(kind: str) -> pd.DataFrame:
        rows = unique[unique["type"] == kind]
        if rows.empty:
            return empty_intervals()
        end = rows["time_s"].to_numpy()
        zone = rows["zone"].fillna("") if kind != STORE_EXIT else pd.Series("", index=rows.index)
        return make_intervals(rows["subject"], zone, end - rows["duration_s"].to_numpy(), end)

    return EventIntervals(
        visits=frame(STORE_EXIT),
        zone_visits=frame(ZONE_EXIT),
        dwells=frame(DWELL_END),
        entered=frozenset(entered.astype(str)),
        events=len(f),
        duplicates=len(f) - len(unique),
        malformed=(),
    )
