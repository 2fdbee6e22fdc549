"""Column normalisation shared by every run input: accepted spellings of each column,
positions as typed arrays, interval tables, and device roles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.errors import RunInputError
from analytics.intervals import empty_intervals, make_intervals

#: Accepted spellings of each column, contract name first (ARCHITECTURE 3.2-3.4).
ALIASES: dict[str, tuple[str, ...]] = {
    "t_s": ("t", "t_s", "time_s"),
    "device_id": ("device_id", "device", "subject"),
    "x_m": ("x", "x_m"),
    "y_m": ("y", "y_m"),
    "zone": ("zone", "zone_name"),
    "start_s": ("start_s", "start_t", "enter_t", "enter_s", "t_enter", "start", "enter", "t_start"),
    "end_s": ("end_s", "end_t", "exit_t", "exit_s", "t_exit", "end", "exit", "t_end"),
    "role": ("role", "kind", "persona_kind", "device_kind"),
}
ROLES = ("visitor", "passerby", "staff")
#: Optional 0/1 columns of locate's positions.csv: the engine judged the device inside the
#: store (``in_store``) or a staff device (``staff``) at that sample.
FLAG_COLUMNS = ("in_store", "staff")


def pick(columns: Any, name: str, source: str, required: bool = True) -> str | None:
    """The column of ``columns`` holding ``name`` under any accepted spelling."""
    for alias in ALIASES[name]:
        if alias in columns:
            return alias
    if required:
        raise RunInputError(
            source,
            name,
            f"missing column (accepted: {', '.join(ALIASES[name])}; found: {', '.join(map(str, columns))})",
        )
    return None


def positions_frame(table: pa.Table, source: str) -> pd.DataFrame:
    """Normalise an Arrow table of positions; device ids stay strings, dictionary-encoded."""
    return frame_of_columns(position_columns(table, source))


def position_columns(table: pa.Table, source: str) -> dict[str, Any]:
    """The table's position columns as numpy arrays (device ids as a Categorical)."""
    cols = table.column_names
    names = {k: pick(cols, k, source) for k in ("t_s", "device_id", "x_m", "y_m")}
    out: dict[str, Any] = {}
    for key in ("t_s", "x_m", "y_m"):
        col = table.column(names[key])
        try:
            out[key] = col.cast(pa.float64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise RunInputError(source, str(names[key]), f"must be numbers: {e}") from e
    column = table.column(names["device_id"])
    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries()
        dev = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if not pa.types.is_string(dev.dictionary.type):
            dev = dev.cast(pa.string()).dictionary_encode()
    else:
        dev = column.cast(pa.string()).dictionary_encode().combine_chunks()
    out["device_id"] = pd.Categorical.from_codes(
        dev.indices.to_numpy(zero_copy_only=False).astype(np.int32), dev.dictionary.to_pylist()
    )
    for key in (k for k in FLAG_COLUMNS if k in cols):
        out[key] = table.column(key).cast(pa.int8()).fill_null(0).to_numpy().astype(bool)
    return out


def frame_of_columns(out: dict[str, Any]) -> pd.DataFrame:
    """Positions frame from columns: rows with a non-finite number dropped, sorted by time."""
    bad = np.zeros(len(out["t_s"]), dtype=bool)
    for key in ("t_s", "x_m", "y_m"):
        bad |= ~np.isfinite(out[key])
    if bad.any():
        out = {k: v[~bad] for k, v in out.items()}
    t = out["t_s"]
    if len(t) > 1 and (np.diff(t) < 0).any():
        order = np.argsort(t, kind="stable")
        out = {k: v[order] for k, v in out.items()}
    flags = [k for k in FLAG_COLUMNS if k in out]
    return pd.DataFrame({k: out[k] for k in ("t_s", "device_id", "x_m", "y_m", *flags)}, copy=False)


def intervals_frame(
    table: pd.DataFrame, source: str, zone: bool, window: tuple[float, float] | None = None
) -> pd.DataFrame:
    """Normalise a visits / dwells / zone visits table to an interval frame. Open ends (null:
    before or after the simulated window) are cut at ``window``; rows open at both ends
    without a window are dropped."""
    if table.empty:
        return empty_intervals()
    dev = pick(table.columns, "device_id", source)
    start = table[pick(table.columns, "start_s", source)].astype(np.float64)
    end = table[pick(table.columns, "end_s", source)].astype(np.float64)
    if window is not None:
        start, end = start.fillna(window[0]), end.fillna(window[1])
    keep = (start.notna() & end.notna()).to_numpy()
    zcol = pick(table.columns, "zone", source) if zone else None
    zones = table[zcol].astype(str) if zcol else pd.Series("", index=table.index)
    return make_intervals(table[dev].astype(str)[keep], zones[keep], start[keep], end[keep])


def roles_of(devices: pd.Index, visitors: set[str], explicit: pd.Series | None = None) -> pd.Series:
    """Devices with a visit are visitors, the rest passers-by, unless the source says otherwise."""
    roles = pd.Series(
        np.where(devices.isin(list(visitors)), "visitor", "passerby"), index=devices, dtype=object
    )
    if explicit is not None and not explicit.empty:
        known = explicit[explicit.isin(ROLES)]
        roles.loc[known.index.intersection(roles.index)] = known
    roles.index.name = "device_id"
    return roles


def all_devices(positions: pd.DataFrame, *frames: pd.DataFrame) -> pd.Index:
    ids = [np.asarray(positions["device_id"].cat.categories, dtype=object)]
    ids += [np.asarray(f["device_id"].astype(str), dtype=object) for f in frames]
    return pd.Index(np.unique(np.concatenate(ids)) if ids else [], dtype=object)
