"""Observation log I/O: round trips, bad rows counted with their line, fatal only when unusable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacons.observation import ObservationBatch
from sim.errors import ObservationLogError
from sim.obslog import iter_observation_log, read_observation_log, write_observation_log

HEADER = "t,device_id,beacon_id,rssi\n"


def _csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    p = tmp_path / "log.csv"
    p.write_text(header + body, encoding="utf-8")
    return p


def test_csv_reads_and_keeps_numeric_looking_ids_as_strings(tmp_path: Path) -> None:
    p = _csv(tmp_path, "10.0,007,1001,-60\n11.5,007,1002,-71\n")
    log = read_observation_log(p, beacon_ids={"1001", "1002"})
    assert log.batch.device_id.tolist() == ["007", "007"]
    assert log.batch.beacon_id.tolist() == ["1001", "1002"]
    assert log.batch.rssi_dbm.tolist() == [-60.0, -71.0]
    assert log.rejected.total == 0


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("10,d1,b99,-60", "unknown_beacon"),
        ("10,d1,b01,0", "rssi_out_of_range"),
        ("10,d1,b01,5", "rssi_out_of_range"),
        ("10,d1,b01,-128", "rssi_out_of_range"),
        ("10,d1,b01,nan", "not_a_number"),
        ("inf,d1,b01,-60", "not_a_number"),
        ("10,d1,b01,-inf", "not_a_number"),
        ("ten,d1,b01,-60", "not_a_number"),
        ("10,,b01,-60", "missing_field"),
        ("10,d1,b01,", "missing_field"),
        ("10,d1,b01", "malformed_line"),
        ("10,d1,b01,-60,extra", "malformed_line"),
    ],
)
def test_bad_csv_row_is_counted_with_its_line(tmp_path: Path, row: str, reason: str) -> None:
    p = _csv(tmp_path, f"9,d1,b01,-50\n{row}\n11,d1,b01,-55\n")
    log = read_observation_log(p, beacon_ids={"b01"})
    assert log.rejected.counts == {reason: 1}
    assert log.rejected.examples == ((3, reason),)
    assert log.batch.t_s.tolist() == [9.0, 11.0]  # nothing accepted is lost


def test_rssi_edges_minus_127_kept(tmp_path: Path) -> None:
    log = read_observation_log(_csv(tmp_path, "1,d,b,-127\n2,d,b,-0.5\n"))
    assert log.batch.rssi_dbm.tolist() == [-127.0, -0.5]


def test_duplicates_rejected_and_out_of_order_resorted(tmp_path: Path) -> None:
    p = _csv(tmp_path, "5,d,b,-60\n3,d,b,-61\n5,d,b,-62\n4,e,b,-70\n")
    log = read_observation_log(p)
    assert log.rejected.counts == {"duplicate": 1}
    assert log.rejected.examples == ((4, "duplicate"),)
    assert log.rejected.out_of_order == 2
    assert log.batch.t_s.tolist() == [3.0, 4.0, 5.0]


def test_duplicates_found_across_chunks(tmp_path: Path) -> None:
    p = _csv(tmp_path, "1,d,b,-60\n2,d,b,-60\n2,d,b,-61\n3,d,b,-60\n")
    chunks = list(iter_observation_log(p, chunk_rows=2))
    assert len(chunks) == 2
    assert sum(r.counts.get("duplicate", 0) for _, r in chunks) == 1
    assert sum(len(b) for b, _ in chunks) == 3


def test_empty_file_is_an_empty_log_and_header_only_too(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    assert len(read_observation_log(p).batch) == 0
    assert len(read_observation_log(_csv(tmp_path, "")).batch) == 0


def test_missing_column_or_file_is_fatal_and_names_it(tmp_path: Path) -> None:
    p = _csv(tmp_path, "1,d,b\n", header="t,device_id,beacon_id\n")
    with pytest.raises(ObservationLogError, match=r"log.csv:1: missing column\(s\) rssi"):
        read_observation_log(p)
    with pytest.raises(ObservationLogError, match="no such file"):
        read_observation_log(tmp_path / "nope.parquet")


def test_extra_columns_ignored_and_blank_lines_skipped(tmp_path: Path) -> None:
    p = _csv(tmp_path, "x,1,d,b,-60\n\nx,2,d,b,-61\n", header="note,t,device_id,beacon_id,rssi\n")
    log = read_observation_log(p)
    assert log.batch.t_s.tolist() == [1.0, 2.0]
    assert log.rejected.total == 0


def _batch() -> ObservationBatch:
    return ObservationBatch.from_arrays(
        [2.5, 1.25, 3.0], ["0042", "0042", "x"], ["1001", "1002", "1001"], [-60, -70, -80]
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_read_round_trip(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"obs{suffix}"
    write_observation_log(p, _batch())
    log = read_observation_log(p)
    expected = _batch().sorted_by_time()
    assert log.batch.device_id.tolist() == expected.device_id.tolist()
    assert log.batch.beacon_id.tolist() == expected.beacon_id.tolist()
    np.testing.assert_allclose(log.batch.t_s, expected.t_s)
    np.testing.assert_allclose(log.batch.rssi_dbm, expected.rssi_dbm)
    assert [f.name for f in p.parent.iterdir()] == [p.name]  # no temporary left


def test_simulation_directory_resolves_to_its_log(tmp_path: Path) -> None:
    write_observation_log(tmp_path / "observations.parquet", _batch())
    assert len(read_observation_log(tmp_path).batch) == 3


def test_parquet_nulls_and_integer_ids(tmp_path: Path) -> None:
    table = pa.table(
        {
            "t": pa.array([1.0, None, 3.0, 4.0]),
            "device_id": pa.array([7, 7, None, 7], pa.int64()),
            "beacon_id": pa.array(["1001", "1001", "1001", "1001"]),
            "rssi": pa.array([-60.0, -60.0, -60.0, float("nan")]),
        }
    )
    p = tmp_path / "obs.parquet"
    pq.write_table(table, p)
    log = read_observation_log(p, beacon_ids=["1001"])
    assert log.batch.device_id.tolist() == ["7"]
    assert log.rejected.counts == {"missing_field": 2, "not_a_number": 1}
    assert log.rejected.examples == (
        (1, "missing_field"),
        (2, "missing_field"),
        (3, "not_a_number"),
    )


def test_write_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ObservationLogError, match=r"\.parquet or \.csv"):
        write_observation_log(tmp_path / "obs.txt", _batch())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=',0123456789.-abn"', max_size=12), max_size=8))
def test_csv_never_crashes_on_garbage(lines: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "g.csv"
        p.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
        log = read_observation_log(p)
        assert np.all(np.isfinite(log.batch.t_s))
        assert np.all((log.batch.rssi_dbm >= -127) & (log.batch.rssi_dbm < 0))


def test_bad_utf8_falls_back_without_losing_or_repeating_rows(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_bytes(HEADER.encode() + b"1,d,b,-60\n2,\xff\xfe,b,-61\n3,d,b,-62\n4,d,b\n")
    log = read_observation_log(p)
    assert log.batch.t_s.tolist() == [1.0, 2.0, 3.0]
    assert log.rejected.counts == {"malformed_line": 1}
    assert log.rejected.examples == ((5, "malformed_line"),)


def test_line_numbers_stay_exact_across_chunks_blank_lines_and_bad_rows(tmp_path: Path) -> None:
    body = "1,d,b,-60\n\n2,d,b\n3,d,b,-61\n4,d,b,x\n,,,\n5,d,b,-62\n"
    p = _csv(tmp_path, body)
    for chunk_rows in (1, 2, 1000):
        rejected = [r for _, r in iter_observation_log(p, chunk_rows=chunk_rows)]
        examples = sorted(e for r in rejected for e in r.examples)
        assert examples == [(4, "malformed_line"), (6, "not_a_number")], chunk_rows


def test_unclosed_quote_spoils_only_its_own_line(tmp_path: Path) -> None:
    # \xff sends the reader to the line-by-line fallback before the quote is met.
    p = tmp_path / "log.csv"
    p.write_bytes(HEADER.encode() + b'1,\xff,b,-60\n2,"d,b,-61\n3,d,b,-62\n4,d,b,-63\n')
    log = read_observation_log(p)
    assert log.batch.t_s.tolist() == [1.0, 3.0, 4.0]
    assert log.rejected.examples == ((3, "malformed_line"),)


def test_unclosed_quote_on_the_fast_path_spoils_only_its_own_line(tmp_path: Path) -> None:
    p = _csv(tmp_path, '1,d,b,-60\n2,"d,b,-61\n3,d,b,-62\n4,d,b,-63\n')
    log = read_observation_log(p)
    assert log.batch.t_s.tolist() == [1.0, 3.0, 4.0]
    assert log.rejected.examples == ((3, "malformed_line"),)
