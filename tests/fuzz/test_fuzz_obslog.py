"""Fuzz campaigns over observation logs, CSV and Parquet (issue 18, build 7).

Whatever a file holds, reading it gives either an ObservationLogError naming the file (it
cannot be used at all), or a log where every row is accounted for: accepted, or rejected
with a reason counted (``len(batch) + rejected.total`` is the number of rows written), and
every accepted row is a row that was written and keeps the rules of ARCHITECTURE 3.2.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hostile import HOSTILE_TEXT, campaign
from hypothesis import given
from hypothesis import strategies as st

from beacons.observation import RSSI_MAX_DBM, RSSI_MIN_DBM
from beacons.validity import EARLIEST_T_S, LATEST_T_S, id_problem
from sim.errors import ObservationLogError
from sim.obslog import MAX_EXAMPLES, REASONS, ObservationLog, read_observation_log

T0 = 1_790_000_000.0
COLUMNS = ("t", "device_id", "beacon_id", "rssi")
BEACONS = ("b1", "b2", "b3")


def read_or_explain(path: Path, beacon_ids: tuple[str, ...] | None) -> ObservationLog | None:
    """The property's first half: a log, or an ObservationLogError naming the file."""
    try:
        return read_observation_log(path, beacon_ids)
    except ObservationLogError as e:
        assert e.path == str(path) and str(path) in str(e)
        return None


def assert_accounted(log: ObservationLog, rows: int, last_line: int) -> None:
    """Every row accepted or counted with a reason; examples point at real lines."""
    assert len(log.batch) + log.rejected.total == rows, (len(log.batch), log.rejected, rows)
    assert set(log.rejected.counts) <= set(REASONS)
    assert all(n > 0 for n in log.rejected.counts.values())
    assert len(log.rejected.examples) <= MAX_EXAMPLES
    assert len(log.rejected.examples) == min(MAX_EXAMPLES, len(log.rejected.examples))
    for line, reason in log.rejected.examples:
        assert reason in log.rejected.counts and 0 <= line <= last_line


def assert_rows_keep_the_rules(log: ObservationLog, beacon_ids: tuple[str, ...] | None) -> None:
    b = log.batch
    assert np.isfinite(b.t_s).all() and np.isfinite(b.rssi_dbm).all()
    assert ((b.t_s > EARLIEST_T_S) & (b.t_s < LATEST_T_S)).all()
    assert ((b.rssi_dbm >= RSSI_MIN_DBM) & (b.rssi_dbm < RSSI_MAX_DBM)).all()
    assert (np.diff(b.t_s) >= 0).all()
    for ids in (b.device_id, b.beacon_id):
        assert all(id_problem(str(i)) is None for i in set(ids.tolist()))
    if beacon_ids is not None:
        assert set(b.beacon_id.tolist()) <= set(beacon_ids)
    keys = list(zip(b.t_s.tolist(), b.device_id.tolist(), b.beacon_id.tolist(), strict=True))
    assert len(keys) == len(set(keys)), "a duplicate (t, device, beacon) was accepted"


def assert_accepted_were_written(log: ObservationLog, written: list[tuple[Any, ...]]) -> None:
    """Accepted rows are a sub-multiset of the rows written (values as written, parsed)."""
    have = Counter(written)
    for row in zip(
        log.batch.t_s.tolist(),
        log.batch.device_id.tolist(),
        log.batch.beacon_id.tolist(),
        log.batch.rssi_dbm.tolist(),
        strict=True,
    ):
        assert have[row] > 0, f"accepted {row!r}, which no line holds"
        have[row] -= 1


# -- CSV ------------------------------------------------------------------------------

GOOD_T = st.floats(T0, T0 + 3600).map(lambda t: repr(round(t, 3)))
GOOD_RSSI = st.integers(-110, -20).map(str)
GOOD_ID = st.sampled_from(("d1", "d2", "phone-7", *BEACONS))
NUMBER_TEXT = st.sampled_from(
    [
        "",
        " ",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e300",
        "-1e300",
        "0",
        "-1",
        "1" + "0" * 5000,
        "4102444800",
        "1e",
        "--5",
        "0x10",
        "1_000",
        " -60 ",
        "-60.5",
        "-127",
        "0",
        "127",
        "abc",
    ]
)
CSV_FIELD = st.one_of(GOOD_T, GOOD_RSSI, GOOD_ID, NUMBER_TEXT, HOSTILE_TEXT)


def _cell(value: str | bytes, quote: bool) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    raw = raw.replace(b"\r", b" ").replace(b"\n", b" ")  # one row per line (see sim.obslog)
    return b'"' + raw.replace(b'"', b'""') + b'"' if quote else raw


@st.composite
def csv_logs(draw: st.DrawFn) -> tuple[bytes, list[list[bytes]], list[str]]:
    """A header (the four columns in any order, extras, maybe a BOM) and rows of cells."""
    extras = draw(st.lists(st.sampled_from(["x", "note", *COLUMNS]), max_size=2, unique=True))
    names = draw(st.permutations([*COLUMNS, *extras]))  # a column may be named twice
    header = ",".join(f" {n}" if draw(st.booleans()) and n == "rssi" else n for n in names)
    good_row = {
        "t": GOOD_T,
        "device_id": GOOD_ID,
        "beacon_id": st.sampled_from(BEACONS),
        "rssi": GOOD_RSSI,
    }
    rows: list[list[bytes]] = []
    for _ in range(draw(st.integers(0, 25))):
        hostile = draw(st.integers(0, 3)) == 0
        cells = []
        for n in names:
            strat = CSV_FIELD if hostile and draw(st.booleans()) else good_row.get(n, GOOD_ID)
            value: str | bytes = draw(strat)
            if hostile and draw(st.integers(0, 9)) == 0:
                value = draw(st.binary(max_size=6))  # bytes that may not be UTF-8
            cells.append(_cell(value, quote=draw(st.integers(0, 4)) == 0))
        width = draw(st.sampled_from([0, 0, 0, 0, 0, 0, -1, 1])) if hostile else 0
        rows.append(cells[: len(cells) + width] if width < 0 else cells + [b"extra"] * width)
    bom = b"\xef\xbb\xbf" if draw(st.integers(0, 5)) == 0 else b""
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    text = bom + header.encode() + eol + b"".join(b",".join(r) + eol for r in rows)
    return text, rows, list(names)


def _expected_rows(text: bytes, names: list[str]) -> tuple[int, list[tuple[Any, ...]]]:
    """Rows the reader must account for (every non-blank line), and values written, parsed
    as a person would read them (Python's csv and float)."""
    counted = 0
    written: list[tuple[Any, ...]] = []
    # Lines end at \n only (not at U+0085 or U+2028, as str.splitlines would have it).
    lines = [raw.rstrip(b"\r").decode("utf-8", "replace") for raw in text.split(b"\n")[1:]]
    where = [names.index(c) for c in COLUMNS]
    for line in lines:
        row = next(csv.reader(io.StringIO(line)), [])
        if not row:
            continue
        if len(row) != len(names):
            counted += 1
            continue
        t, dev, bcn, rssi = (row[i].strip() for i in where)
        if not (t or dev or bcn or rssi):
            continue  # a line of empty fields is a blank line
        counted += 1
        try:
            written.append((float(t), dev, bcn, float(rssi)))
        except ValueError:
            pass
    return counted, written


@campaign(300)
@given(log=csv_logs(), known=st.booleans())
def test_csv_logs_account_for_every_row(
    tmp_path: Path, log: tuple[bytes, list[list[bytes]], list[str]], known: bool
) -> None:
    text, _rows, names = log
    path = tmp_path / "log.csv"
    path.write_bytes(text)
    beacon_ids = BEACONS if known else None
    result = read_or_explain(path, beacon_ids)
    assert result is not None, "the four columns are there: the log must be readable"
    counted, written = _expected_rows(text, names)
    assert_accounted(result, counted, last_line=text.count(b"\n") + 1)
    assert_rows_keep_the_rules(result, beacon_ids)
    assert_accepted_were_written(result, written)


def test_found_by_the_csv_campaign(tmp_path: Path) -> None:
    """Pinned: a quote left open made Arrow join the next line into one row of the right
    width (its good row silently lost), and a malformed line that is not UTF-8 made pyarrow
    print an "Exception ignored" traceback from its invalid-row callback."""
    path = tmp_path / "log.csv"
    cases = ((b'"",","",-20', ["d2"], 1), (b'1790000000,d1,b1,-20,"open', ["d1", "d2"], 0))
    for line, accepted, rejected in cases:
        path.write_bytes(b"t,device_id,beacon_id,rssi,x\n" + line + b"\n1790000001,d2,b1,-21,x\n")
        log = read_observation_log(path)
        assert log.batch.device_id.tolist() == accepted  # the good line after it survives
        assert log.rejected.total == rejected
    path.write_bytes(b"t,device_id,beacon_id,rssi\n1790000000,d\xb4,b1\n1790000001,d1,b1,-51\n")
    log = read_observation_log(path)  # pytest turns the unraisable traceback into an error
    assert log.rejected.counts == {"malformed_line": 1} and len(log.batch) == 1
