"""planning sits beside sim and analytics: it never imports presence, and positioning,
beacons and sim never import it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _imported_packages(package: str) -> set[str]:
    found: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_planning_does_not_import_the_live_system() -> None:
    assert "presence" not in _imported_packages("planning")


@pytest.mark.parametrize("package", ["beacons", "positioning", "sim"])
def test_lower_packages_do_not_import_planning(package: str) -> None:
    assert "planning" not in _imported_packages(package)
