"""Shared pieces of the fuzz campaigns (issue 18, build 7): the settings profile and the
hostile values every campaign draws from.

CI runs each campaign derandomized (the same examples every run, a few seconds each).
``INSTORE_FUZZ_EXAMPLES=5000 python -m pytest tests/fuzz`` runs a deeper, random campaign;
a failure it finds is printed with the example to paste into a regression test.
"""

from __future__ import annotations

import math
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = ["HOSTILE_FLOATS", "HOSTILE_INTS", "HOSTILE_TEXT", "campaign", "hostile_scalar"]

_DEEP = int(os.environ.get("INSTORE_FUZZ_EXAMPLES", "0") or 0)


def campaign(max_examples: int) -> settings:
    """Settings of one campaign: ``max_examples`` derandomized, or a deep random run."""
    return settings(
        max_examples=_DEEP or max_examples,
        derandomize=not _DEEP,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )


#: Digits past Python's int/str conversion limit (4300, PEP 651 / CVE-2020-10735) and below it.
HUGE_INT_DIGITS = (400, 4301, 5000)

HOSTILE_INTS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**400, -(10**400)]),
)
HOSTILE_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 5e-324, -0.0, 1e32]),
)
#: Text a careless or hostile writer produces: NUL and control characters, topic
#: separators, bidi overrides, very long runs, lone high code points.
HOSTILE_TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "d\x00x",
            "a/b",
            "#",
            "+",
            "\u202e",
            "\ufeff",
            "é" * 200,
            "x" * 129,
            "x" * 5000,
            "../../etc",
            "1e300",
            "nan",
            "-inf",
        ]
    ),
)


def hostile_scalar() -> st.SearchStrategy[Any]:
    return st.one_of(HOSTILE_INTS, HOSTILE_FLOATS, HOSTILE_TEXT, st.booleans())
