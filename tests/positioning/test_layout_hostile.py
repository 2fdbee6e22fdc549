"""Hand-typed and hostile layout files (issue 18, finding 10): a LayoutError naming the file
and the key for each, never a traceback, never a silent acceptance."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from positioning.errors import LayoutError
from positioning.layout import load_layout, parse_layout

GOOD = """
[store]
name = "t"
width = 10.0
height = 8.0
entrance = [[4.0, 0.0], [6.0, 0.0]]

[[beacons]]
id = "a"
x = 1.0
y = 1.0
tx_power = -59

[[obstacles]]
kind = "shelf"
polygon = [[6, 4], [8, 4], [8, 5], [6, 5]]
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    p = tmp_path / "store.toml"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_the_good_file_loads(tmp_path: Path) -> None:
    assert load_layout(write(tmp_path, GOOD)).name == "t"


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (GOOD.replace('name = "t"', 'name = "caf\xe9"').encode("latin-1"), "line 3", "not UTF-8"),
        (
            GOOD.replace("width = 10.0", "width = 100000000000000000000000000000000"),
            "store.width",
            "at most 500",
        ),
        (GOOD.replace("width = 10.0", "width = 1e300"), "store.width", "at most 500"),
        (GOOD.replace("width = 10.0", "width = 1e6"), "store.width", "at most 500"),
        (
            GOOD.replace("[8, 5], [6, 5]]", "[8, 1e12], [6, 1e12]]"),
            "obstacles[0].polygon",
            "outside",
        ),
        (GOOD.replace("width = 10.0", "width = " + "9" * 400), "store.width", "finite"),
        (GOOD.replace("[[6, 4], [8, 4]", "[[6, nan], [8, 4]"), "obstacles[0].polygon", "finite"),
        (GOOD.replace("[[6, 4], [8, 4]", "[[6, inf], [8, 4]"), "obstacles[0].polygon", "finite"),
        (
            GOOD.replace(
                "[[6, 4], [8, 4], [8, 5], [6, 5]]", "[[16, 4], [18, 4], [18, 5], [16, 5]]"
            ),
            "obstacles[0].polygon",
            "outside",
        ),
        (GOOD + "\n[store]\n", "-", "TOML"),  # a table header twice is invalid TOML
        ('radio = "x"\n' + GOOD, "radio", "must be a table"),
        ("a = " + "[" * 200_000 + "]" * 200_000 + "\n" + GOOD, "-", "TOML"),
        (
            GOOD.replace("tx_power = -59", "tx_power = -59\nadv_interval_ms = -100"),
            "beacons[0].adv_interval_ms",
            "positive",
        ),
        (
            GOOD.replace("tx_power = -59", "tx_power = -59\nadv_interval_ms = 5"),
            "beacons[0].adv_interval_ms",
            "20..10240",
        ),
        (
            GOOD.replace("[[4.0, 0.0], [6.0, 0.0]]", "[[4.0, 0.0], [4.0, 0.0]]"),
            "store.entrance",
            "shorter than",
        ),
        (GOOD.replace('name = "t"', 'name = "a/#+"'), "store.name", "topic"),
        (GOOD.replace('name = "t"', 'name = "a\\u0000b"'), "store.name", "control"),
        (GOOD.replace('id = "a"', f'id = "{"x" * 129}"'), "beacons[0].id", "at most 128"),
    ],
)
def test_bad_layouts_name_the_file_and_key(
    tmp_path: Path, text: str | bytes, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LayoutError) as info:
        load_layout(path)
    assert info.value.path == str(path) and info.value.key == key, str(info.value)
    assert words in info.value.reason, str(info.value)


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "#" * 1_000_001 + "\n")
    with pytest.raises(LayoutError, match="larger than"):
        load_layout(path)


def test_parse_layout_refuses_nan_in_an_already_parsed_document() -> None:
    doc = {
        "store": {"name": "t", "width": 10.0, "height": 8.0},
        "beacons": [{"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59}],
        "zones": [{"name": "z", "polygon": [[0, 0], [5, 0], [5, float("nan")]]}],
    }
    with pytest.raises(LayoutError, match=r"zones\[0\]\.polygon"):
        parse_layout(copy.deepcopy(doc))
