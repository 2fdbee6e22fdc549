"""Raw chunks of an observation log file, before any row check (see :mod:`sim.obslog`)."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from beacons.validity import MAX_ID_CHARS, id_problem
from sim.errors import ObservationLogError

REQUIRED_COLUMNS = ("t", "device_id", "beacon_id", "rssi")
#: Bytes per block of Arrow's CSV reader (about half a million log lines).
ARROW_BLOCK_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class RawChunk:
    """Columns as found: ids as str ("" when missing), t/rssi as float or text."""

    t: npt.NDArray[Any]
    device_id: npt.NDArray[np.str_]
    beacon_id: npt.NDArray[np.str_]
    rssi: npt.NDArray[Any]
    missing_t: npt.NDArray[np.bool_]
    missing_rssi: npt.NDArray[np.bool_]
    line: npt.NDArray[np.int64]  # CSV: 1-based file line; Parquet: 0-based row index
    malformed_lines: tuple[int, ...] = ()
    #: ids breaking the id rule (beacons.validity); such ids are blanked, so memory stays
    #: bounded by MAX_ID_CHARS per id whatever the file holds
    invalid_id: npt.NDArray[np.bool_] | None = None
    #: (first row, row count) of a stretch that could not be read at all (a corrupt page)
    unreadable: tuple[int, int] | None = None


def _check_columns(path: Path, names: list[str], line: int | None) -> dict[str, int]:
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ObservationLogError(
            str(path),
            f"missing column(s) {', '.join(missing)}; a log needs {', '.join(REQUIRED_COLUMNS)} (found {names})",
            line,
        )
    return {c: names.index(c) for c in REQUIRED_COLUMNS}


def csv_chunks(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    """Arrow's fast reader; Python's csv module from where Arrow gives up (bad UTF-8...)."""
    try:
        # utf-8-sig: a byte order mark (Excel writes one) is not part of the first column's name
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            header = next(csv.reader(f), None)
    except OSError as e:
        raise ObservationLogError(str(path), f"cannot read: {e.strerror or e}") from e
    if header is None:
        return
    names = [h.strip() for h in header]
    where = _check_columns(path, names, 1)
    cols = [where[c] for c in REQUIRED_COLUMNS]
    done = [1]  # last file line handed out (the header)
    if _is_utf8(path):
        try:
            yield from _arrow_csv_chunks(path, names, chunk_rows, done)
            return
        except (pa.ArrowInvalid, UnicodeDecodeError):
            pass
    yield from _python_csv_chunks(path, len(names), cols, chunk_rows, done[0])


def _is_utf8(path: Path) -> bool:
    """Whether the whole file is UTF-8. Arrow is given only such files: on a malformed line
    that is not UTF-8, pyarrow fails inside its invalid-row callback and prints an
    "Exception ignored" traceback (pyarrow 26), before we fall back anyway. Decoding
    runs at memory speed, a small cost next to parsing."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            while block := f.read(ARROW_BLOCK_BYTES):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _arrow_csv_chunks(
    path: Path, names: list[str], chunk_rows: int, done: list[int]
) -> Iterator[RawChunk]:
    """One row per line (quoted newlines are not supported here): line numbers stay exact."""
    invalid: list[int] = []

    def skip(row: pacsv.InvalidRow) -> str:
        # A row spanning lines (an unclosed quote) would hide the lines it swallowed:
        # -1 sends the rest of the file to the line-by-line reader.
        spans_lines = "\n" in (row.text or "")
        invalid.append(-1 if row.number is None or spans_lines else int(row.number))
        return "skip"

    # Every column as text, so a quote left open in any of them shows (see _spans_lines);
    # by position, as a header may name a column twice (the first one counts).
    strings = {c: pa.string() for c in names}
    at = {c: names.index(c) for c in REQUIRED_COLUMNS}
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=False, column_names=names, skip_rows=1, block_size=ARROW_BLOCK_BYTES
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=strings,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    rows_before = 0
    reported = 0
    for batch in reader:
        if _spans_lines(batch):
            raise pa.ArrowInvalid("a quoted value spans lines")
        for lo in range(0, batch.num_rows, chunk_rows):
            part = batch.slice(lo, chunk_rows)
            if -1 in invalid:
                raise pa.ArrowInvalid("a malformed line without a line number")
            bad = np.sort(np.asarray(invalid, dtype=np.int64))
            valid_before_bad = bad - 2 - np.arange(len(bad))
            v = np.arange(rows_before, rows_before + part.num_rows)
            lines = v + 2 + np.searchsorted(valid_before_bad, v, side="right")
            rows_before += part.num_rows
            last = int(lines[-1]) if len(lines) else done[0]
            fresh = bad[reported:][bad[reported:] <= last]
            reported += len(fresh)
            fields = [
                np.asarray(part.column(at[c]).to_numpy(zero_copy_only=False), dtype=object)
                for c in ("t", "rssi")
            ]
            done[0] = last
            yield _raw_from_columns(
                fields[0],
                _strings(part.column(at["device_id"])),
                _strings(part.column(at["beacon_id"])),
                fields[1],
                lines,
                tuple(int(x) for x in fresh),
            )
    if -1 in invalid:
        raise pa.ArrowInvalid("a malformed line without a line number")
    rest = np.sort(np.asarray(invalid, dtype=np.int64))[reported:]
    if len(rest):
        yield _raw_from_fields(
            [np.empty(0, dtype=object)] * 4, np.empty(0, np.int64), tuple(int(x) for x in rest)
        )


def _spans_lines(batch: pa.RecordBatch) -> bool:
    """Whether a value holds a line break: a quote left open made Arrow join lines into one
    row of the right width, silently swallowing the rows of the lines it joined."""
    return any(
        pc.any(pc.match_substring(col, eol)).as_py() is True  # 3x faster than one regex
        for col in batch.columns
        for eol in ("\n", "\r")
    )


def _python_csv_chunks(
    path: Path, width: int, cols: list[int], chunk_rows: int, after_line: int
) -> Iterator[RawChunk]:
    """Each line parsed on its own, as Arrow does: an unclosed quote spoils only its own
    line (reported as malformed) instead of swallowing the rest of the file."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        numbered = enumerate(islice(f, after_line, None), start=after_line + 1)
        while True:
            block = [(n, _parse_line(line)) for n, line in islice(numbered, chunk_rows)]
            if not block:
                return
            yield _csv_chunk(block, width, cols)


def _parse_line(line: str) -> list[str]:
    return next(csv.reader([line.rstrip("\r\n")]), [])


def _csv_chunk(block: list[tuple[int, list[str]]], width: int, cols: list[int]) -> RawChunk:
    """Rows of one chunk: blank lines skipped, wrong widths reported, the four fields kept."""
    good = [(n, row) for n, row in block if len(row) == width]
    malformed = tuple(n for n, row in block if row and len(row) != width)
    picked = [[row[c] for c in cols] for _, row in good]
    fields = (
        [np.asarray(f, dtype=object) for f in zip(*picked, strict=True)]
        if picked
        else [np.empty(0, dtype=object)] * 4
    )
    return _raw_from_fields(fields, np.asarray([n for n, _ in good], dtype=np.int64), malformed)


def _raw_from_fields(
    fields: list[npt.NDArray[np.object_]], lines: npt.NDArray[np.int64], malformed: tuple[int, ...]
) -> RawChunk:
    """Text fields (t, device_id, beacon_id, rssi) as Python strings (the slow, line-by-line path)."""
    t, dev, bcn, rssi = fields
    return _raw_from_columns(
        t,
        _strings(pa.array(dev, pa.string())),
        _strings(pa.array(bcn, pa.string())),
        rssi,
        lines,
        malformed,
    )


def _raw_from_columns(
    t_text: npt.NDArray[np.object_],
    dev: tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_]],
    bcn: tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_]],
    rssi_text: npt.NDArray[np.object_],
    lines: npt.NDArray[np.int64],
    malformed: tuple[int, ...],
) -> RawChunk:
    """Text t and rssi stripped, checked ids; rows with all four fields empty are blank lines."""
    t, rssi = (
        np.char.strip(np.asarray(f, dtype=str)) if len(f) else np.empty(0, dtype=str)
        for f in (t_text, rssi_text)
    )
    (dev_ids, dev_bad), (bcn_ids, bcn_bad) = dev, bcn
    blank = (t == "") & (dev_ids == "") & (bcn_ids == "") & (rssi == "") & ~dev_bad & ~bcn_bad
    keep = ~blank
    return RawChunk(
        t=t[keep],
        device_id=dev_ids[keep],
        beacon_id=bcn_ids[keep],
        rssi=rssi[keep],
        missing_t=np.asarray(t[keep] == "", dtype=bool),
        missing_rssi=np.asarray(rssi[keep] == "", dtype=bool),
        line=np.asarray(lines, dtype=np.int64)[keep],
        malformed_lines=malformed,
        invalid_id=(dev_bad | bcn_bad)[keep],
    )


def parquet_chunks(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    # A damaged footer fails in many ways: Arrow's errors, and a UnicodeDecodeError when a
    # name in it is no longer UTF-8.
    except (OSError, pa.ArrowException, UnicodeDecodeError) as e:
        raise ObservationLogError(str(path), f"not a readable Parquet file: {e}") from e
    _check_columns(path, list(schema.names), None)
    for name in ("device_id", "beacon_id"):
        kind = schema.field(name).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if not (_is_text(kind) or _is_scalar(kind)):
            raise ObservationLogError(
                str(path), f"column {name} has type {kind}; ids must be strings or numbers"
            )
    start = 0
    for group in range(pf.metadata.num_row_groups):
        group_end = start + pf.metadata.row_group(group).num_rows
        batches = pf.iter_batches(
            batch_size=chunk_rows, row_groups=[group], columns=list(REQUIRED_COLUMNS)
        )
        while start < group_end:
            try:
                rb = next(batches)
            except StopIteration:
                break
            except (OSError, pa.ArrowException):
                # A corrupt page: the rest of this row group is lost and counted; rows
                # already handed out stay accepted, and the next row group is tried.
                yield _unreadable(start, group_end - start)
                break
            yield _parquet_chunk(rb, start)
            start += rb.num_rows
        start = group_end


def _parquet_chunk(rb: pa.RecordBatch, start: int) -> RawChunk:
    t, missing_t = _numeric(rb.column("t"))
    rssi, missing_rssi = _numeric(rb.column("rssi"))
    dev, dev_bad = _strings(rb.column("device_id"))
    bcn, bcn_bad = _strings(rb.column("beacon_id"))
    return RawChunk(
        t=t,
        device_id=dev,
        beacon_id=bcn,
        rssi=rssi,
        missing_t=missing_t,
        missing_rssi=missing_rssi,
        line=np.arange(start, start + rb.num_rows, dtype=np.int64),
        invalid_id=dev_bad | bcn_bad,
    )


def _unreadable(start: int, n: int) -> RawChunk:
    empty = np.empty(0, dtype=str)
    none = np.empty(0, dtype=bool)
    return RawChunk(
        empty, empty, empty, empty, none, none, np.empty(0, np.int64), unreadable=(start, n)
    )


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _is_scalar(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def _numeric(col: pa.Array) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    missing = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        if not _valid_utf8(col):  # a damaged page: its bytes are not a number either
            raw = col.cast(pa.large_binary()).to_pylist()
            col = pa.array([None if b is None else b.decode("utf-8", "replace") for b in raw])
        values = np.asarray(col.fill_null("").to_numpy(zero_copy_only=False), dtype=object)
        missing |= values == ""
        return values, missing
    try:
        as_float = pc.cast(col, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.full(len(col), "x", dtype=object), missing
    return np.asarray(as_float.fill_null(np.nan).to_numpy(), dtype=np.float64), missing


def _strings(col: pa.Array | pa.ChunkedArray) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_]]:
    """Ids as numpy str, checked once per distinct id through a dictionary (few distinct
    ids); nulls become "". Ids breaking the id rule are blanked and flagged (second array),
    before any fixed-width numpy array is made: its width is that of the longest id."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_dictionary(col.type):
        if not _is_text(col.type):
            col = pc.cast(col, pa.string())
        col = pc.dictionary_encode(col)
    dictionary = col.dictionary
    not_utf8 = np.zeros(len(dictionary), dtype=bool)
    if _is_text(dictionary.type) and not _valid_utf8(dictionary):
        # binary, or a string column whose damaged page Arrow decoded without checking
        dictionary, not_utf8 = _decode_utf8(dictionary.cast(pa.large_binary()))
    elif not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        dictionary = pc.cast(dictionary, pa.string())
    dictionary = pc.utf8_trim_whitespace(dictionary)
    too_long = pc.greater(pc.utf8_length(dictionary), MAX_ID_CHARS)
    dictionary = pc.if_else(too_long, "x", dictionary)  # placeholder, flagged below
    words = np.asarray(dictionary.to_numpy(zero_copy_only=False), dtype=str)
    bad_word = (
        not_utf8
        | np.asarray(too_long.to_numpy(zero_copy_only=False), dtype=bool)
        | np.fromiter(
            (w != "" and id_problem(w) is not None for w in words), dtype=bool, count=len(words)
        )
    )
    words[bad_word] = ""
    words = np.append(words, "")
    bad_word = np.append(bad_word, False)
    indices = col.indices.fill_null(len(words) - 1).to_numpy(zero_copy_only=False)
    return np.asarray(words[indices], dtype=str), bad_word[indices]


def _valid_utf8(words: pa.Array) -> bool:
    """Whether a string (not binary) array holds valid UTF-8, which Arrow does not check
    when it reads a Parquet page."""
    if pa.types.is_binary(words.type) or pa.types.is_large_binary(words.type):
        return False
    try:
        words.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _decode_utf8(words: pa.Array) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """Binary ids as text; those that are not UTF-8 become "x" and are flagged."""
    text: list[str | None] = []
    bad: list[bool] = []
    for w in words.to_pylist():
        try:
            text.append(None if w is None else w.decode("utf-8"))
            bad.append(False)
        except UnicodeDecodeError:
            text.append("x")
            bad.append(True)
    return pa.array(text, pa.string()), np.asarray(bad, dtype=bool)
