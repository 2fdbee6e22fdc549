"""Fuzz campaign over layout TOML (issue 18, build 7): whatever a file holds,
:func:`load_layout` returns a layout that keeps every rule, or raises LayoutError naming
the file and the key or line; never another exception."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostile import campaign, hostile_scalar
from hypothesis import given
from hypothesis import strategies as st

from beacons.validity import id_problem
from positioning.errors import LayoutError
from positioning.layout import (
    EDGE_TOLERANCE_M,
    MAX_SIDE_M,
    MIN_ENTRANCE_M,
    OBSTACLE_KINDS,
    Layout,
    load_layout,
    parse_layout,
)


class Literal(str):
    """TOML text written as is (a 5,000-digit integer Python will not print)."""


def _escape(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v: Any) -> str:
    if isinstance(v, Literal):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, str):
        return _escape(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_escape(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_document(doc: dict[str, Any]) -> str:
    return "".join(f"{_escape(k)} = {toml_value(v)}\n" for k, v in doc.items())


BIG_LITERALS = st.sampled_from(
    [Literal("1" + "0" * n) for n in (400, 4301, 5000)]
    + [Literal("-1" + "_000" * 1500), Literal("0x" + "f" * 5000), Literal("1e99999")]
)
#: The values that broke loaders before (issue 18, finding 10), drawn often.
NASTY = st.sampled_from(
    [
        10**400,
        -(10**400),
        2**64,
        math.nan,
        math.inf,
        -math.inf,
        1e300,
        -1e12,
        0,
        -0.0,
        -1,
        True,
        "",
        " ",
        "x",
        "d\x00x",
        "a/b",
        "x" * 200,
        [],
        {},
        [[]],
        [[1e300, 1e300]],
        [[math.nan, 0.0], [1.0, 1.0]],
        [[0.0, 0.0], [0.0, 0.0]],
        {"x": 1},
    ]
).map(copy.deepcopy)  # a fresh copy: a later mutation must not change the shared one
LEAF = st.one_of(NASTY, hostile_scalar(), BIG_LITERALS)
VALUE = st.one_of(
    NASTY,
    st.recursive(
        LEAF,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    ),
)


@st.composite
def good_layouts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid layout: an outline, a door on the bottom edge, beacons, zones, obstacles."""
    w = draw(st.floats(2.0, 60.0))
    h = draw(st.floats(2.0, 60.0))
    door = draw(st.floats(0.0, w - 1.0))
    coord = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
    beacons = [
        {"id": f"b{i}", "x": fx * w, "y": fy * h, "tx_power": -59}
        for i, (fx, fy) in enumerate(draw(st.lists(coord, min_size=1, max_size=4)))
    ]
    box = [[0.0, 0.0], [w / 2, 0.0], [w / 2, h / 2], [0.0, h / 2]]
    return {
        "store": {
            "name": "fuzz",
            "width": w,
            "height": h,
            "entrance": [[door, 0.0], [door + 1.0, 0.0]],
        },
        "radio": {"path_loss_exponent": 2.0},
        "beacons": beacons,
        "zones": [{"name": "front", "polygon": box}],
        "obstacles": [{"kind": "shelf", "polygon": [[p[0] + w / 4, p[1] + h / 4] for p in box]}],
    }


def _paths(v: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document a value sits, parents before children."""
    out = [here] if here else []
    if isinstance(v, dict):
        for k, x in v.items():
            out += _paths(x, (*here, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += _paths(x, (*here, i))
    return out


@st.composite
def mutated_layouts(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(good_layouts())
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        where = draw(st.sampled_from(paths))
        parent = doc
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(VALUE)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[
                draw(
                    st.sampled_from(
                        ["z", "adv_interval_ms", "major", "uuid", "entrance", "kind", "x"]
                    )
                )
            ] = draw(VALUE)
        else:
            parent.append(draw(VALUE))
    return doc


def check(path: Path) -> Layout | None:
    """The property: a layout that keeps the rules, or a LayoutError that explains itself."""
    try:
        layout = load_layout(path)
    except LayoutError as e:
        assert e.path == str(path) and e.key and e.reason, e
        assert str(path) in str(e)
        return None
    assert_keeps_the_rules(layout)
    return layout


def _finite_inside(points: np.ndarray, layout: Layout) -> None:
    assert np.isfinite(points).all()
    assert layout.contains(points).all()


def assert_keeps_the_rules(layout: Layout) -> None:
    assert id_problem(layout.name) is None
    for side in (layout.width_m, layout.height_m):
        assert math.isfinite(side) and 0.0 < side <= MAX_SIDE_M
    assert layout.beacons and len(set(layout.beacon_ids)) == len(layout.beacons)
    for b in layout.beacons:
        assert id_problem(b.id) is None
        assert math.isfinite(b.tx_power_dbm) and -127 <= b.tx_power_dbm <= 20
        assert b.adv_interval_ms is None or 20.0 <= b.adv_interval_ms <= 10_240.0
        assert b.z_m is None or math.isfinite(b.z_m)
        for v in (b.major, b.minor):
            assert v is None or (isinstance(v, int) and 0 <= v <= 0xFFFF)
    for zone in layout.zones:
        _finite_inside(zone.polygon, layout)
        assert zone.area_m2 > 0
    for obstacle in layout.obstacles:
        assert obstacle.kind in OBSTACLE_KINDS
        _finite_inside(obstacle.polygon, layout)
    if layout.entrance is not None:
        _finite_inside(layout.entrance, layout)
        assert (
            float(np.hypot(*(layout.entrance[1] - layout.entrance[0])))
            >= MIN_ENTRANCE_M - EDGE_TOLERANCE_M
        )
    assert 1.0 <= layout.path_loss_exponent <= 6.0


@campaign(150)
@given(doc=good_layouts())
def test_good_layouts_load(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "store.toml"
    path.write_text(toml_document(doc), encoding="utf-8")
    assert check(path) is not None


@campaign(400)
@given(doc=mutated_layouts())
def test_mutated_layouts_load_or_explain(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "store.toml"
    path.write_text(toml_document(doc), encoding="utf-8")
    check(path)


@campaign(150)
@given(
    doc=st.dictionaries(
        st.sampled_from(["store", "radio", "beacons", "zones", "obstacles", "x"]), VALUE
    )
)
def test_any_document_loads_or_explains(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "store.toml"
    path.write_text(toml_document(doc), encoding="utf-8")
    check(path)


GOOD_TEXT = b"""[store]
name = "t"
width = 10.0
height = 8.0
entrance = [[4.0, 0.0], [6.0, 0.0]]

[[beacons]]
id = "a"
x = 1.0
y = 1.0
tx_power = -59
adv_interval_ms = 100

[[zones]]
name = "front"
polygon = [[0, 0], [5, 0], [5, 4], [0, 4]]

[[obstacles]]
kind = "shelf"
polygon = [[6, 4], [8, 4], [8, 5], [6, 5]]
"""
SPLICES = st.one_of(
    st.binary(max_size=8),
    st.sampled_from(
        [
            b"\x00",
            b"\xff\xfe",
            b"\xef\xbb\xbf",
            b"[[",
            b"]]",
            b"=",
            b'"',
            b"\n[store]\n",
            b"1" + b"0" * 5000,
            b"[" * 3000,
            b"{" * 3000,
            b"nan",
            b"-inf",
            b"1e300",
            b"\r\n",
        ]
    ),
)


@campaign(400)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(GOOD_TEXT)), st.integers(0, 12), SPLICES),
        min_size=1,
        max_size=4,
    )
)
def test_damaged_files_load_or_explain(tmp_path: Path, edits: list[tuple[int, int, bytes]]) -> None:
    raw = GOOD_TEXT
    for at, cut, splice in edits:
        at = min(at, len(raw))
        raw = raw[:at] + splice + raw[at + cut :]
    path = tmp_path / "store.toml"
    path.write_bytes(raw)
    check(path)


NASTY_VALUES = [
    10**400,
    -(10**400),
    10**5000,
    2**64,
    math.nan,
    math.inf,
    -math.inf,
    1e300,
    -1e12,
    0,
    -0.0,
    -1,
    True,
    "",
    " ",
    "x",
    "d\x00x",
    "a/b",
    "x" * 200,
    [],
    {},
    [[]],
    [[1e300, 1e300]],
    [[math.nan, 0.0], [1.0, 1.0]],
    [[0.0, 0.0], [0.0, 0.0]],
    {"x": 1},
    [10**400],
    [[10**5000, 0]],
]
FIXED = {
    "store": {"name": "t", "width": 10.0, "height": 8.0, "entrance": [[4.0, 0.0], [6.0, 0.0]]},
    "radio": {"path_loss_exponent": 2.0},
    "beacons": [
        {
            "id": "a",
            "x": 1.0,
            "y": 1.0,
            "tx_power": -59,
            "z": 2.0,
            "adv_interval_ms": 100,
            "major": 1,
            "minor": 2,
            "uuid": "u",
        }
    ],
    "zones": [{"name": "front", "polygon": [[0, 0], [5, 0], [5, 4], [0, 4]]}],
    "obstacles": [{"kind": "shelf", "polygon": [[6, 4], [8, 4], [8, 5], [6, 5]]}],
}


def test_every_field_against_every_nasty_value() -> None:
    """The sweep random campaigns rarely hit: each place of a good layout, each nasty value
    (parse_layout directly: a 5,000-digit integer cannot be written to TOML by Python)."""
    for where in _paths(FIXED):
        for nasty in NASTY_VALUES:
            doc = copy.deepcopy(FIXED)
            parent: Any = doc
            for step in where[:-1]:
                parent = parent[step]
            parent[where[-1]] = copy.deepcopy(nasty)
            try:
                layout = parse_layout(doc, source="sweep.toml")
            except LayoutError as e:
                assert e.path == "sweep.toml" and e.key and e.reason, (where, e)
                continue
            assert_keeps_the_rules(layout)


def test_found_by_the_campaign(tmp_path: Path) -> None:
    """What the campaigns found, pinned: each was a ValueError or OverflowError traceback."""
    path = tmp_path / "store.toml"
    path.write_bytes(GOOD_TEXT.replace(b"width = 10.0", b"width = 1" + b"0" * 5000))
    with pytest.raises(LayoutError) as found:
        load_layout(path)
    assert (found.value.key, found.value.reason) == ("line 3", "a number has too many digits")
    path.write_bytes(GOOD_TEXT.replace(b'name = "t"', b"name = 0x" + b"f" * 5000))
    with pytest.raises(LayoutError, match="integer of 20000 bits") as found:
        load_layout(path)
    assert found.value.key == "store.name"
    doc = copy.deepcopy(FIXED)
    doc["radio"]["path_loss_exponent"] = 10**400
    with pytest.raises(LayoutError) as found:
        parse_layout(doc)
    assert found.value.key == "radio.path_loss_exponent"
