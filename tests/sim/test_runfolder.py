"""One reader of a run folder's tables: Parquet first, CSV with ids kept as strings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.runfolder import find_table, read_frame


def test_parquet_wins_then_csv_then_nothing(tmp_path: Path) -> None:
    assert find_table(tmp_path, "visits") is None
    (tmp_path / "visits.csv").write_text("device_id,kind\n007,shopper\n")
    assert find_table(tmp_path, "visits") == tmp_path / "visits.csv"
    frame = read_frame(tmp_path / "visits.csv", strings=("device_id", "kind"))
    assert frame["device_id"].tolist() == ["007"]  # not the number 7
    pd.DataFrame({"device_id": ["a"]}).to_parquet(tmp_path / "visits.parquet")
    assert find_table(tmp_path, "visits") == tmp_path / "visits.parquet"
    assert read_frame(tmp_path / "visits.parquet")["device_id"].tolist() == ["a"]
    (tmp_path / "truth.csv").mkdir()  # a folder of that name is not a table
    assert find_table(tmp_path, "truth") is None
