"""Options shared by the CRM commands: the database URL and the store."""

from __future__ import annotations

import argparse
from pathlib import Path

from positioning.layout import load_layout
from presence.crm.store import DEFAULT_URL


def add_crm_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--crm",
        metavar="URL",
        default=DEFAULT_URL,
        help=f"CRM database: a SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default {DEFAULT_URL})",
    )


def store_name(value: str) -> str:
    """``--store``: a store name, or a layout TOML whose [store] name is used."""
    path = Path(value)
    if path.suffix == ".toml" or path.is_file():
        return load_layout(path).name
    return value
