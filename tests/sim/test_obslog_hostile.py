"""Hostile observation logs (issue 18, finding 11): every bad row rejected with a reason and
its row, nothing good lost, memory bounded whatever the ids, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beacons.validity import MAX_ID_CHARS
from sim.errors import ObservationLogError
from sim.obslog import iter_observation_log, read_observation_log

T0 = 1_790_000_000.0


def parquet(path: Path, device_ids: pa.Array, **kw: object) -> Path:
    n = len(device_ids)
    table = pa.table(
        {
            "t": pa.array([T0 + i for i in range(n)], pa.float64()),
            "device_id": device_ids,
            "beacon_id": pa.array(["b1"] * n),
            "rssi": pa.array([-60.0] * n),
        }
    )
    pq.write_table(table, path, **kw)  # type: ignore[arg-type]
    return path


def test_non_utf8_ids_in_parquet_are_rejected_rows(tmp_path: Path) -> None:
    ids = pa.array([b"phone", b"\xff\xfe", b"phone"], pa.binary())
    log = read_observation_log(parquet(tmp_path / "a.parquet", ids))
    assert log.rejected.counts == {"invalid_id": 1} and log.rejected.examples == (
        (1, "invalid_id"),
    )
    assert log.batch.device_id.tolist() == ["phone", "phone"]


def test_list_typed_ids_name_the_column(tmp_path: Path) -> None:
    ids = pa.array([["a"], ["b"]], pa.list_(pa.string()))
    with pytest.raises(ObservationLogError, match="column device_id has type list"):
        read_observation_log(parquet(tmp_path / "a.parquet", ids))


def test_one_huge_id_costs_its_rows_not_the_machine(tmp_path: Path) -> None:
    n = 200_000
    ids = pa.array(["d" * 5000 if i == 7 else "phone" for i in range(n)])
    log = read_observation_log(parquet(tmp_path / "a.parquet", ids, compression="zstd"))
    assert log.rejected.counts == {"invalid_id": 1}
    assert len(log.batch) == n - 1
    assert log.batch.device_id.dtype.itemsize <= 4 * MAX_ID_CHARS  # numpy str width: bounded


def test_a_corrupt_page_costs_its_row_group_only(tmp_path: Path) -> None:
    ids = pa.array([f"d{i % 3}" for i in range(3000)])
    path = parquet(tmp_path / "a.parquet", ids, row_group_size=1000, compression="zstd")
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(1).column(1)  # device_id of the second row group
    raw = bytearray(path.read_bytes())
    lo = column.data_page_offset
    raw[lo : lo + column.total_compressed_size] = b"\xa5" * column.total_compressed_size
    path.write_bytes(bytes(raw))
    log = read_observation_log(path)
    assert log.rejected.counts == {"unreadable_data": 1000}
    assert log.rejected.examples == ((1000, "unreadable_data"),)
    assert len(log.batch) == 2000 and log.batch.t_s.min() == T0 and log.batch.t_s.max() == T0 + 2999


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("0,d1,b01,-60", "time_out_of_range"),
        ("-1e9,d1,b01,-60", "time_out_of_range"),
        ("1e300,d1,b01,-60", "time_out_of_range"),
        ("4102444800,d1,b01,-60", "time_out_of_range"),
        ("10,d\x00x,b01,-60", "invalid_id"),
        ("10,a/b,b01,-60", "invalid_id"),
        ("10,a#,b01,-60", "invalid_id"),
        (f"10,{'d' * 129},b01,-60", "invalid_id"),
        ("10,d1,b\x07,-60", "invalid_id"),
    ],
)
def test_hostile_csv_rows_are_rejected_with_a_reason(tmp_path: Path, row: str, reason: str) -> None:
    p = tmp_path / "log.csv"
    p.write_text(
        f"t,device_id,beacon_id,rssi\n9,d1,b01,-50\n{row}\n11,d1,b01,-55\n", encoding="utf-8"
    )
    log = read_observation_log(p)
    assert log.rejected.counts == {reason: 1} and log.rejected.examples == ((3, reason),)
    assert log.batch.t_s.tolist() == [9.0, 11.0]


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_bytes(b'\xef\xbb\xbf"t",device_id,beacon_id,rssi\n9,d1,b01,-50\n')
    ((batch, rejected),) = list(iter_observation_log(p))
    assert batch.t_s.tolist() == [9.0] and rejected.total == 0


def test_hostile_ids_on_the_slow_csv_path_too(tmp_path: Path) -> None:
    # Invalid UTF-8 sends the reader to the line-by-line path; the same rule applies there.
    p = tmp_path / "log.csv"
    p.write_bytes(
        b"t,device_id,beacon_id,rssi\n9,d1,b01,-50\n10,\xff,b01,-60\n11,a/b,b01,-61\n12,d1,b01,-55\n"
    )
    log = read_observation_log(p)
    assert log.rejected.counts == {"invalid_id": 1}
    assert log.batch.t_s.tolist() == [9.0, 10.0, 12.0]  # U+FFFD replaces the bad byte: a valid id


def csv_log(path: Path, rows: list[tuple[float, str]]) -> Path:
    path.write_text("t,device_id,beacon_id,rssi\n" + "".join(f"{t},{d},b1,-60\n" for t, d in rows))
    return path


def test_one_row_decades_ahead_is_refused_and_moves_no_visit(tmp_path: Path) -> None:
    # Issue 18, finding 2: a sorted log's last row in 2099 used to close every visit at 2099.
    rows = [(T0 + i, f"d{i % 3}") for i in range(600)] + [(4_070_908_800.0, "rogue")]
    chunks = list(iter_observation_log(csv_log(tmp_path / "a.csv", rows), chunk_rows=128))
    assert [r.counts for _b, r in chunks if r.counts] == [{"time_out_of_range": 1}]
    assert chunks[-1][1].examples == ((602, "time_out_of_range"),)  # the file's line
    assert max(float(b.t_s.max()) for b, _r in chunks if len(b)) == T0 + 599


def test_a_future_dated_log_its_nights_and_a_confirmed_jump_are_kept(tmp_path: Path) -> None:
    start = T0 + 10 * 365 * 86_400.0  # a simulated day years ahead: the file sets its own clock
    night, fortnight = 14 * 3600.0, 14 * 86_400.0
    rows = [(start + i, "a") for i in range(50)]
    rows += [(start + night + i, "a") for i in range(50)]  # one phone the next morning
    rows += [(start + fortnight + i, "a" if i % 2 else "b") for i in range(50)]
    chunks = list(iter_observation_log(csv_log(tmp_path / "a.csv", rows), chunk_rows=32))
    refused = [r.counts for _b, r in chunks if r.counts]
    assert refused == [{"time_out_of_range": 1}]  # two weeks on: the first, until b confirms it
    assert sum(len(b) for b, _r in chunks) == 149
