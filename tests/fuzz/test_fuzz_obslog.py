"""Fuzz campaigns over observation logs, CSV and Parquet (issue 18, build 7).

Whatever a file holds, reading it gives either an ObservationLogError naming the file (it
cannot be used at all), or a log where every row is accounted for: accepted, or rejected
with a reason counted (``len(batch) + rejected.total`` is the number of rows written), and
every accepted row is a row that was written and keeps the rules of ARCHITECTURE 3.2.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hostile import HOSTILE_FLOATS, HOSTILE_TEXT, campaign
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


def assert_rows_keep_the_rules(
    log: ObservationLog, beacon_ids: tuple[str, ...] | None, *, one_chunk: bool = True
) -> None:
    """``one_chunk``: the log was read in one chunk, where every duplicate is found (across
    chunks only those within DUPLICATE_CARRY_S of the running time are, to bound memory)."""
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
    assert not one_chunk or len(keys) == len(set(keys)), "a duplicate was accepted"


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
        with contextlib.suppress(ValueError):
            written.append((float(t), dev, bcn, float(rssi)))
    return counted, written


@campaign(120)
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


# -- Parquet --------------------------------------------------------------------------

GOOD_FLOAT_T = st.floats(T0, T0 + 3600)
GOOD_FLOAT_RSSI = st.integers(-110, -20).map(float)
GOOD_TEXT_ID = st.sampled_from(("d1", "d2", " d3 ", *BEACONS))
ID_TYPES = ("string", "large_string", "dictionary", "binary", "int64", "float64", "list", "bool")
NUMBER_TYPES = ("float64", "float32", "int64", "int8", "string", "null", "timestamp")


def _values(draw: st.DrawFn, kind: str, good: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` values for an Arrow column of ``kind``: mostly good, some hostile or null."""
    hostile: st.SearchStrategy[Any] = {
        "string": HOSTILE_TEXT,
        "large_string": HOSTILE_TEXT,
        "dictionary": HOSTILE_TEXT,
        "binary": st.binary(max_size=8),
        "int64": st.integers(-(2**63), 2**63 - 1),
        "int8": st.integers(-128, 127),
        "float64": HOSTILE_FLOATS,
        "float32": HOSTILE_FLOATS.filter(lambda f: math.isnan(f) or abs(f) < 3e38),
        "list": st.lists(HOSTILE_TEXT, max_size=2),
        "bool": st.booleans(),
        "null": st.none(),
        "timestamp": st.integers(0, 2**40),
    }[kind]
    out = []
    for _ in range(n):
        pick = draw(st.integers(0, 9))
        value = None if pick == 0 or kind == "null" else draw(hostile if pick < 3 else good)
        out.append(value)
    return out


def _coerce(kind: str, v: Any) -> Any:
    """A drawn value in the Python type Arrow wants for ``kind`` (a good id in a number
    column becomes a number, a good time in a text column its text)."""
    if v is None:
        return None
    if kind in ("string", "large_string", "dictionary"):
        return v if isinstance(v, str) else repr(v)
    if kind == "binary":
        return v if isinstance(v, bytes) else str(v).encode()
    if kind in ("int64", "int8", "timestamp"):
        limit = 2**7 if kind == "int8" else 2**63
        ok = isinstance(v, int) and not isinstance(v, bool) and -limit <= v < limit
        return v if ok else -60
    if kind in ("float64", "float32"):
        return float(v) if isinstance(v, int | float) else 7.5
    if kind == "list":
        return v if isinstance(v, list) else [str(v)]
    if kind == "bool":
        return bool(v)
    return None


def _array(kind: str, values: list[Any]) -> pa.Array:
    values = [_coerce(kind, v) for v in values]
    types: dict[str, pa.DataType] = {
        "string": pa.string(),
        "large_string": pa.large_string(),
        "dictionary": pa.string(),
        "binary": pa.binary(),
        "int64": pa.int64(),
        "int8": pa.int8(),
        "float64": pa.float64(),
        "float32": pa.float32(),
        "list": pa.list_(pa.string()),
        "bool": pa.bool_(),
        "null": pa.null(),
        "timestamp": pa.timestamp("s"),
    }
    array = pa.array(values, types[kind])
    return array.dictionary_encode() if kind == "dictionary" else array


@st.composite
def parquet_tables(draw: st.DrawFn) -> tuple[pa.Table, dict[str, str]]:
    n = draw(st.integers(0, 30))
    kinds = {
        "t": draw(st.sampled_from(("float64",) * 4 + NUMBER_TYPES)),
        "device_id": draw(st.sampled_from(("string",) * 4 + ID_TYPES)),
        "beacon_id": draw(st.sampled_from(("string",) * 4 + ID_TYPES)),
        "rssi": draw(st.sampled_from(("float64",) * 4 + NUMBER_TYPES)),
    }
    good: dict[str, st.SearchStrategy[Any]] = {
        "t": GOOD_FLOAT_T,
        "device_id": GOOD_TEXT_ID,
        "beacon_id": st.sampled_from(BEACONS),
        "rssi": GOOD_FLOAT_RSSI,
    }
    columns: dict[str, pa.Array] = {}
    for name in draw(st.permutations(COLUMNS)):
        kind = kinds[name]
        strat = good[name]
        if kind in ("int64", "int8", "timestamp"):
            strat = strat.map(lambda v: int(v) if isinstance(v, float) else 7)
        columns[name] = _array(kind, _values(draw, kind, strat, n))
    if draw(st.booleans()):
        columns["extra"] = pa.array([[1]] * n, pa.list_(pa.int64()))  # ignored, whatever its type
    return pa.table(columns), kinds


def _written_rows(table: pa.Table, kinds: dict[str, str]) -> list[tuple[Any, ...]] | None:
    """Rows as written, when the types make them comparable with what is read."""
    if {kinds["t"], kinds["rssi"]} - {"float64", "int64", "int8"} or {
        kinds["device_id"],
        kinds["beacon_id"],
    } - {"string", "large_string", "dictionary"}:
        return None
    cols = [table.column(c).to_pylist() for c in COLUMNS]
    return [
        (float(t), d.strip(), b.strip(), float(r))
        for t, d, b, r in zip(*cols, strict=True)
        if None not in (t, d, b, r)
    ]


@campaign(120)
@given(
    made=parquet_tables(),
    group_rows=st.integers(1, 12),
    compression=st.sampled_from(["none", "zstd", "snappy"]),
    known=st.booleans(),
)
def test_parquet_logs_account_for_every_row(
    tmp_path: Path,
    made: tuple[pa.Table, dict[str, str]],
    group_rows: int,
    compression: str,
    known: bool,
) -> None:
    table, kinds = made
    path = tmp_path / "log.parquet"
    pq.write_table(table, path, row_group_size=group_rows, compression=compression)
    beacon_ids = BEACONS if known else None
    log = read_or_explain(path, beacon_ids)
    if log is None:
        assert {"list", "bool"} & {kinds["device_id"], kinds["beacon_id"]}, kinds
        return
    assert_accounted(log, table.num_rows, last_line=table.num_rows)
    assert_rows_keep_the_rules(log, beacon_ids, one_chunk=group_rows >= table.num_rows)
    written = _written_rows(table, kinds)
    if written is not None:
        assert_accepted_were_written(log, written)


@campaign(100)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
    compression=st.sampled_from(["none", "zstd", "snappy"]),
    as_text=st.booleans(),
)
def test_damaged_parquet_loads_or_explains(
    tmp_path: Path, flips: list[tuple[int, int]], compression: str, as_text: bool
) -> None:
    n = 40
    number = pa.string() if as_text else pa.float64()
    table = pa.table(
        {
            "t": pa.array([T0 + i for i in range(n)]).cast(number),
            "device_id": pa.array([f"d{i % 3}" for i in range(n)]),
            "beacon_id": pa.array([BEACONS[i % 3] for i in range(n)]),
            "rssi": pa.array([-60.0 - i % 20 for i in range(n)]).cast(number),
        }
    )
    path = tmp_path / "log.parquet"
    pq.write_table(table, path, row_group_size=10, compression=compression)
    raw = bytearray(path.read_bytes())
    for at, byte in flips:
        raw[at % len(raw)] = byte
    path.write_bytes(bytes(raw))
    log = read_or_explain(path, None)
    if log is not None:  # a damaged footer may point two row groups at the same rows
        assert_rows_keep_the_rules(log, None, one_chunk=False)


def test_found_by_the_parquet_campaign(tmp_path: Path) -> None:
    """Pinned: a damaged page Arrow decodes without checking gave a string column that is
    not UTF-8; ids raised ArrowInvalid and text times an ArrowException, mid-read."""
    table = pa.table(
        {
            "t": pa.array(["1790000000", "1790000001"]),
            "device_id": pa.array(["dA", "dB"]),
            "beacon_id": pa.array(["b1", "b1"]),
            "rssi": pa.array([-60.0, -61.0]),
        }
    )
    for needle, reason in ((b"dA", "invalid_id"), (b"1790000000", "not_a_number")):
        path = tmp_path / "log.parquet"
        pq.write_table(table, path, compression="none", use_dictionary=False)
        raw = path.read_bytes()
        # the value in the data page: PLAIN byte arrays are a 4-byte length, then the bytes
        at = raw.index(len(needle).to_bytes(4, "little") + needle) + 4
        path.write_bytes(raw[:at] + b"\xff" + raw[at + 1 :])
        log = read_observation_log(path)
        assert log.rejected.counts == {reason: 1} and log.rejected.examples == ((0, reason),)
        assert log.batch.device_id.tolist() == ["dB"]
