"""The analyst notebooks run top to bottom on a fresh kernel (each in under a minute)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("dwell_heatmaps", "visit_analytics", "positioning_accuracy", "chain_analytics")
#: Per-cell limit: a cell that simulates or locates takes seconds; a minute means it hangs.
CELL_TIMEOUT_S = 120


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_is_stored_without_outputs(name: str) -> None:
    path = NOTEBOOKS / f"{name}.ipynb"
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), (
        "stored with outputs"
    )
    NotebookClient(
        book,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    errors = [
        o
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    assert any(
        o.output_type == "display_data" and "image/png" in o.data
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
