"""The database's own clock, as one SQL expression on SQLite and PostgreSQL.

The consent ledger's ``recorded_s`` is the time the database wrote the row, not a time
the writer chose (issue 18, finding 8): a column DEFAULT fills it, and a trigger
(migration 5) refuses a value a client supplied that is further than
:data:`LEDGER_CLOCK_TOLERANCE_S` from this clock.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["LEDGER_CLOCK_TOLERANCE_S", "db_epoch_now", "db_epoch_now_sql"]

#: Seconds a client-supplied ``recorded_s`` may differ from the database's clock. The
#: application never supplies one; the tolerance only lets a tool that writes "now" from
#: a clock a little apart from the database's (NTP keeps hosts within milliseconds) through.
LEDGER_CLOCK_TOLERANCE_S = 5.0

#: Epoch seconds with sub-second precision. SQLite: Julian day of 1970-01-01 is
#: 2440587.5 (sqlite.org/lang_datefunc.html); 'now' is the same throughout one statement,
#: so a DEFAULT and a trigger of the same INSERT see one value. PostgreSQL:
#: ``clock_timestamp()``, the time of the row, not of the transaction's start (``now()``),
#: so a long seeding transaction still writes true times.
_SQL = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
}


def db_epoch_now_sql(dialect: str) -> str:
    """The expression for ``dialect`` (``sqlite`` or ``postgresql``)."""
    try:
        return _SQL[dialect]
    except KeyError:
        raise ValueError(f"the CRM runs on SQLite or PostgreSQL, not {dialect!r}") from None


class db_epoch_now(FunctionElement[float]):  # noqa: N801 (reads as the SQL function it is)
    """``db_epoch_now()`` in SQLAlchemy: the database's clock in epoch seconds."""

    type = sa.Double()
    inherit_cache = True


@compiles(db_epoch_now)
def _compile(element: db_epoch_now, compiler: Any, **kw: Any) -> str:
    return db_epoch_now_sql(compiler.dialect.name)
