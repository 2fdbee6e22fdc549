"""A run folder's tables by name: what ``instore simulate`` writes (and recordings mimic).

A table NAME is ``NAME.parquet`` (what the simulator writes by default) or ``NAME.csv``
(``--format csv``, hand-made and exported runs); Parquet wins when both exist. Every reader
of a run folder (observation logs, truth, visits, zone visits, dwells) finds its tables here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

__all__ = ["TABLE_SUFFIXES", "find_table", "read_frame"]

#: In order of preference.
TABLE_SUFFIXES = (".parquet", ".csv")


def find_table(folder: str | Path, name: str) -> Path | None:
    """``folder/NAME.parquet``, else ``folder/NAME.csv``, else None."""
    for suffix in TABLE_SUFFIXES:
        path = Path(folder) / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def read_frame(path: Path, strings: Iterable[str] = ("device_id",)) -> pd.DataFrame:
    """A table found by :func:`find_table` as a DataFrame; in a CSV the ``strings``
    columns stay strings (a device id of digits is not a number)."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=dict.fromkeys(strings, str))
