"""The store layout (ARCHITECTURE 3.1): outline, beacons, zones and obstacles, from TOML.

Metres, origin bottom-left, x right, y up. :func:`load_layout` validates everything
and raises :class:`~positioning.errors.LayoutError` naming the file and the key.

Beacons stand inside the outline, or outside it in the street band in front of the
entrance (a radio facing the street: on the outside of the door frame, on the fascia):
on the entrance's side, along that side, at most ``STREET_BAND_M`` out. No key declares
it; the position does. Anywhere else outside is an error naming the beacon.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from beacons.validity import MAX_ID_CHARS, id_problem
from positioning.errors import LayoutError
from positioning.geometry import as_polygon, points_in_polygon, polygon_area, polygon_is_simple

__all__ = [
    "Beacon",
    "DEFAULT_PATH_LOSS_EXPONENT",
    "EDGE_TOLERANCE_M",
    "Layout",
    "OBSTACLE_KINDS",
    "Obstacle",
    "STREET_BAND_M",
    "Zone",
    "load_layout",
    "parse_layout",
]


OBSTACLE_KINDS = ("shelf", "wall", "counter", "pillar")

#: Default log-distance path-loss exponent when the layout gives none. 2.0 is free
#: space; the engine self-calibrates the real one (retail floors measure 1.8-3.0).
DEFAULT_PATH_LOSS_EXPONENT = 2.0

#: Geometry tolerance in metres: points this close outside the outline still count as inside.
EDGE_TOLERANCE_M = 1e-6

#: Longest side a layout may have. The largest single-floor stores (hypermarkets, a mall
#: level) are under 400 m; the bound keeps the 0.25 m occupancy grid under 4 M cells, where
#: ``width = 1e6`` would ask for 116 TiB.
MAX_SIDE_M = 500.0
#: Largest layout file read. A hand-typed store is a few kB; 1 MB holds thousands of beacons.
MAX_LAYOUT_BYTES = 1_000_000
#: Shortest entrance: a door narrower than this is a typo (a zero-length entrance finds nothing).
MIN_ENTRANCE_M = 0.3
#: Depth of the street band in front of the shop front, metres: the pavement where
#: passers-by walk, as the tracker and the simulator model it
#: (``positioning.walkable.DEFAULT_STREET_DEPTH_M``). A radio facing the street (on the
#: outside of the door frame, the fascia) may hang there (ARCHITECTURE 3.1).
STREET_BAND_M = 4.0
#: Largest shop-front loss a layout may declare, dB: float and coated glass lose 2-4 dB at
#: 2.4 GHz, metallised low-e glazing up to ~25 dB; more is a typo (or a wall: no shop front).
MAX_SHOPFRONT_LOSS_DB = 40.0


@dataclass(frozen=True, slots=True)
class Beacon:
    """A fixed radio at a known position. ``tx_power_dbm`` is the declared RSSI at 1 m."""

    id: str
    x_m: float
    y_m: float
    tx_power_dbm: float
    z_m: float | None = None
    uuid: str | None = None
    major: int | None = None
    minor: int | None = None
    eddystone_namespace: str | None = None
    eddystone_instance: str | None = None
    adv_interval_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    polygon: npt.NDArray[np.float64]  # (M, 2) metres

    def contains(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        return points_in_polygon(points, self.polygon)

    @property
    def area_m2(self) -> float:
        return polygon_area(self.polygon)


@dataclass(frozen=True, slots=True)
class Obstacle:
    kind: str
    polygon: npt.NDArray[np.float64]  # (M, 2) metres


@dataclass(frozen=True, slots=True)
class Layout:
    """A validated store. Beacon order is the file's order and indexes every array."""

    name: str
    width_m: float
    height_m: float
    beacons: tuple[Beacon, ...]
    zones: tuple[Zone, ...] = ()
    obstacles: tuple[Obstacle, ...] = ()
    entrance: npt.NDArray[np.float64] | None = None  # (2, 2) segment on the outline
    path_loss_exponent: float = DEFAULT_PATH_LOSS_EXPONENT
    radio: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<layout>"

    @property
    def shopfront_loss_db(self) -> float | None:
        """The loss of the shop front (the glass between the street and the floor), dB, as
        the layout's ``[radio] shopfront_loss_db`` declares it; None: not declared."""
        value = self.radio.get("shopfront_loss_db")
        return None if value is None else float(value)

    @property
    def beacon_ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.beacons)

    @property
    def beacon_index(self) -> dict[str, int]:
        return {b.id: i for i, b in enumerate(self.beacons)}

    @property
    def beacon_xy(self) -> npt.NDArray[np.float64]:
        """(B, 2) beacon positions in metres."""
        return np.array([[b.x_m, b.y_m] for b in self.beacons], dtype=np.float64).reshape(-1, 2)

    @property
    def tx_power_dbm(self) -> npt.NDArray[np.float64]:
        """(B,) declared RSSI at 1 m."""
        return np.array([b.tx_power_dbm for b in self.beacons], dtype=np.float64)

    @property
    def outline(self) -> npt.NDArray[np.float64]:
        w, h = self.width_m, self.height_m
        return np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])

    def contains(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """(N,) whether points lie inside the store outline."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        t = EDGE_TOLERANCE_M
        return np.asarray(
            (p[:, 0] >= -t)
            & (p[:, 0] <= self.width_m + t)
            & (p[:, 1] >= -t)
            & (p[:, 1] <= self.height_m + t)
        )

    def zone_of(self, points: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """(N,) index of the first zone containing each point, -1 where none."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.full(len(p), -1, dtype=np.int64)
        for i, zone in reversed(list(enumerate(self.zones))):
            out[zone.contains(p)] = i
        return out

    def in_street_band(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """(N,) whether points lie outside the outline in the street band: in front of
        the side holding the entrance, at most STREET_BAND_M out (never without an entrance)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.entrance is None:
            return np.zeros(len(p), dtype=bool)
        x, y, w, h = p[:, 0], p[:, 1], self.width_m, self.height_m
        along_x, along_y = (x >= 0.0) & (x <= w), (y >= 0.0) & (y <= h)
        out = {
            "bottom": along_x & (y < 0.0) & (y >= -STREET_BAND_M),
            "top": along_x & (y > h) & (y <= h + STREET_BAND_M),
            "left": along_y & (x < 0.0) & (x >= -STREET_BAND_M),
            "right": along_y & (x > w) & (x <= w + STREET_BAND_M),
        }[self.entrance_side()]
        return np.asarray(out & ~self.contains(p))

    def entrance_side(self) -> str:
        """Which side of the outline holds the entrance: bottom, top, left or right."""
        mx, my = self.entrance_midpoint()
        distances = {
            "bottom": my,
            "top": self.height_m - my,
            "left": mx,
            "right": self.width_m - mx,
        }
        return min(distances, key=lambda k: distances[k])

    def entrance_midpoint(self) -> npt.NDArray[np.float64]:
        if self.entrance is None:
            return np.array([self.width_m / 2.0, 0.0])
        return np.asarray(self.entrance.mean(axis=0))


def load_layout(path: str | Path) -> Layout:
    """Read and validate a layout TOML file. Raises LayoutError naming file and key."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_LAYOUT_BYTES + 1)
    except OSError as e:
        raise LayoutError(str(p), "-", f"cannot read the layout file: {e.strerror or e}") from e
    if len(raw) > MAX_LAYOUT_BYTES:
        raise LayoutError(str(p), "-", f"file is larger than {MAX_LAYOUT_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise LayoutError(str(p), f"line {line}", f"not UTF-8 text ({e.reason})") from e
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LayoutError(str(p), "-", f"not valid TOML: {e}") from e
    except RecursionError as e:
        raise LayoutError(str(p), "-", "not valid TOML: nested too deeply") from e
    except ValueError as e:  # tomllib's int() of a number past Python's 4300-digit limit
        raise LayoutError(str(p), _long_number_line(text), "a number has too many digits") from e
    return parse_layout(doc, source=str(p))


def _long_number_line(text: str) -> str:
    found = re.search(r"[0-9_]{4300,}", text)
    return f"line {text.count(chr(10), 0, found.start()) + 1}" if found else "-"


def parse_layout(doc: Mapping[str, Any], source: str = "<layout>") -> Layout:
    """Validate an already-parsed TOML document into a Layout."""
    v = _Validator(source)
    store = v.table(doc, "store")
    name = v.identifier(store, "store.name")
    width = v.side(store, "store.width")
    height = v.side(store, "store.height")
    if not isinstance(doc.get("radio", {}), Mapping):
        raise LayoutError(source, "radio", "must be a table")
    radio = dict(doc.get("radio", {}) or {})
    ple = radio.get("path_loss_exponent", DEFAULT_PATH_LOSS_EXPONENT)
    if not _is_finite_number(ple) or not 1.0 <= float(ple) <= 6.0:
        raise LayoutError(
            source, "radio.path_loss_exponent", f"must be a number from 1 to 6, got {_show(ple)}"
        )
    glass = radio.get("shopfront_loss_db", 0.0)
    if not _is_finite_number(glass) or not 0.0 <= float(glass) <= MAX_SHOPFRONT_LOSS_DB:
        raise LayoutError(
            source,
            "radio.shopfront_loss_db",
            f"must be a number of dB from 0 to {MAX_SHOPFRONT_LOSS_DB:g}, got {_show(glass)}",
        )

    outline_check = Layout(name=name, width_m=width, height_m=height, beacons=())
    entrance = None
    if "entrance" in store:
        entrance = v.points(store["entrance"], "store.entrance", exact=2)
        if not outline_check.contains(entrance).all() or not _on_outline(entrance, width, height):
            raise LayoutError(
                source,
                "store.entrance",
                f"must be a segment on the store outline, got {entrance.tolist()}",
            )
        if float(np.hypot(*(entrance[1] - entrance[0]))) < MIN_ENTRANCE_M:
            raise LayoutError(
                source,
                "store.entrance",
                f"is shorter than {MIN_ENTRANCE_M} m: give the door's two end points, got {entrance.tolist()}",
            )

    # beacons may also face the street, in the band in front of the entrance
    with_street = Layout(name=name, width_m=width, height_m=height, beacons=(), entrance=entrance)
    beacons = tuple(
        v.beacon(b, i, with_street) for i, b in enumerate(v.array(doc, "beacons", required=True))
    )
    if not beacons:
        raise LayoutError(source, "beacons", "a layout needs at least one beacon")
    v.unique([b.id for b in beacons], "beacons", "id")

    zones = []
    for i, z in enumerate(v.array(doc, "zones")):
        key = f"zones[{i}]"
        zname = v.string(z, f"{key}.name")
        poly = v.polygon(z, f"{key}.polygon")
        if not outline_check.contains(poly).all():
            raise LayoutError(
                source,
                f"{key}.polygon",
                f"zone {zname!r} reaches outside the store outline (0..{width} x 0..{height})",
            )
        zones.append(Zone(zname, poly))
    v.unique([z.name for z in zones], "zones", "name")

    obstacles = []
    for i, o in enumerate(v.array(doc, "obstacles")):
        key = f"obstacles[{i}]"
        kind = v.string(o, f"{key}.kind")
        if kind not in OBSTACLE_KINDS:
            raise LayoutError(
                source, f"{key}.kind", f"must be one of {', '.join(OBSTACLE_KINDS)}, got {kind!r}"
            )
        poly = v.polygon(o, f"{key}.polygon")
        if not outline_check.contains(poly).all():
            raise LayoutError(
                source,
                f"{key}.polygon",
                f"{kind} reaches outside the store outline (0..{width} x 0..{height})",
            )
        obstacles.append(Obstacle(kind, poly))

    return Layout(
        name=name,
        width_m=width,
        height_m=height,
        beacons=beacons,
        zones=tuple(zones),
        obstacles=tuple(obstacles),
        entrance=entrance,
        path_loss_exponent=float(ple),
        radio=radio,
        source=source,
    )


def _outside_message(outline: Layout, beacon_id: Any, x: float, y: float) -> str:
    """Why a beacon outside the outline is refused, and where it may stand."""
    w, h = outline.width_m, outline.height_m
    where = f"beacon {beacon_id!r} at ({x}, {y}) lies outside the store (0..{w} x 0..{h})"
    if outline.entrance is None:
        return where + "; only a store with an entrance has a street where a beacon may face it"
    band = {
        "bottom": f"x 0..{w}, y -{STREET_BAND_M:g}..0",
        "top": f"x 0..{w}, y {h}..{h + STREET_BAND_M:g}",
        "left": f"x -{STREET_BAND_M:g}..0, y 0..{h}",
        "right": f"x {w}..{w + STREET_BAND_M:g}, y 0..{h}",
    }[outline.entrance_side()]
    return (
        where + f" and outside the street band in front of the entrance ({band}), "
        "the only place outside the outline a beacon may face the street"
    )


def _on_outline(points: npt.NDArray[np.float64], width: float, height: float) -> bool:
    t = 1e-6
    x, y = points[:, 0], points[:, 1]
    on = (np.abs(x) < t) | (np.abs(x - width) < t) | (np.abs(y) < t) | (np.abs(y - height) < t)
    return bool(on.all())


def _is_finite_number(value: Any) -> bool:
    """A TOML int or float that is a finite float (TOML integers may be 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


#: Integers longer than this (about 300 digits) are described, not printed.
_MAX_SHOWN_INT_BITS = 1000


def _show(value: Any, limit: int = 80) -> str:
    """A value for a message, bounded: an int past Python's 4300-digit limit cannot be str()-ed."""
    if isinstance(value, int) and value.bit_length() > _MAX_SHOWN_INT_BITS:
        return f"an integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except ValueError:
        return f"a {type(value).__name__} holding an integer with too many digits"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Validator:
    """Typed accessors that raise LayoutError naming the source and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> LayoutError:
        return LayoutError(self.source, key, message)

    def table(self, doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = doc.get(key)
        if not isinstance(value, Mapping):
            raise self.fail(key, "missing table" if value is None else "must be a table")
        return value

    def array(
        self, doc: Mapping[str, Any], key: str, required: bool = False
    ) -> list[Mapping[str, Any]]:
        value = doc.get(key)
        if value is None:
            if required:
                raise self.fail(key, "missing: give at least one [[" + key + "]] entry")
            return []
        if not isinstance(value, list) or not all(isinstance(x, Mapping) for x in value):
            raise self.fail(key, "must be an array of tables ([[" + key + "]])")
        return value

    def _get(self, table: Mapping[str, Any], key: str) -> Any:
        leaf = key.rsplit(".", 1)[-1]
        if leaf not in table:
            raise self.fail(key, "missing")
        return table[leaf]

    def string(self, table: Mapping[str, Any], key: str) -> str:
        value = self._get(table, key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {_show(value)}")
        return value

    def identifier(self, table: Mapping[str, Any], key: str) -> str:
        value = self._get(table, key)
        problem = id_problem(value)
        if problem is not None:
            raise self.fail(key, f"{problem}, got {_show(value)}")
        return str(value)

    def side(self, table: Mapping[str, Any], key: str) -> float:
        value = self.positive(table, key)
        if value > MAX_SIDE_M:
            raise self.fail(key, f"must be at most {MAX_SIDE_M:g} m, got {value:g}")
        return value

    def number(self, table: Mapping[str, Any], key: str) -> float:
        value = self._get(table, key)
        if not _is_finite_number(value):
            raise self.fail(key, f"must be a finite number, got {_show(value)}")
        return float(value)

    def positive(self, table: Mapping[str, Any], key: str) -> float:
        value = self.number(table, key)
        if value <= 0:
            raise self.fail(key, f"must be positive, got {value!r}")
        return value

    def points(self, value: Any, key: str, exact: int | None = None) -> npt.NDArray[np.float64]:
        ok = isinstance(value, list) and all(
            isinstance(p, list) and len(p) == 2 and all(_is_finite_number(c) for c in p)
            for p in value
        )
        if not ok:
            raise self.fail(key, "must be a list of [x, y] pairs of finite numbers")
        if exact is not None and len(value) != exact:
            raise self.fail(key, f"must have exactly {exact} points, got {len(value)}")
        return np.asarray(value, dtype=np.float64)

    def polygon(self, table: Mapping[str, Any], key: str) -> npt.NDArray[np.float64]:
        poly = as_polygon(self.points(self._get(table, key), key))
        if len(poly) < 3 or polygon_area(poly) <= 0:
            raise self.fail(key, "a polygon needs at least 3 points enclosing a non-zero area")
        if not polygon_is_simple(poly):
            raise self.fail(key, "polygon crosses itself (self-intersecting)")
        return poly

    def unique(self, values: list[str], key: str, field_name: str) -> None:
        seen: set[str] = set()
        for i, value in enumerate(values):
            if value in seen:
                raise self.fail(f"{key}[{i}].{field_name}", f"duplicate {field_name} {value!r}")
            seen.add(value)

    def beacon(self, table: Mapping[str, Any], i: int, outline: Layout) -> Beacon:
        key = f"beacons[{i}]"
        raw_id = self._get(table, f"{key}.id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise self.fail(f"{key}.id", f"must be a string, got {_show(raw_id)}")
        if isinstance(raw_id, int) and raw_id.bit_length() > _MAX_SHOWN_INT_BITS:
            raise self.fail(f"{key}.id", f"is longer than {MAX_ID_CHARS} characters")
        problem = id_problem(str(raw_id))
        if problem is not None:
            raise self.fail(f"{key}.id", f"{problem}, got {_show(raw_id)}")
        x, y = self.number(table, f"{key}.x"), self.number(table, f"{key}.y")
        if not outline.contains([[x, y]])[0] and not outline.in_street_band([[x, y]])[0]:
            raise self.fail(key, _outside_message(outline, raw_id, x, y))
        tx = self.number(table, f"{key}.tx_power")
        if not -127 <= tx <= 20:
            raise self.fail(
                f"{key}.tx_power", f"must be the RSSI at 1 m in dBm (-127..20), got {tx}"
            )
        optional: dict[str, Any] = {}
        if "z" in table:
            optional["z_m"] = self.number(table, f"{key}.z")
        if "adv_interval_ms" in table:
            adv = self.positive(table, f"{key}.adv_interval_ms")
            # BLE advertising intervals run from 20 ms to 10.24 s (Core 5.x Vol 6 Part B 4.4.2.2.1)
            if not 20.0 <= adv <= 10_240.0:
                raise self.fail(f"{key}.adv_interval_ms", f"must be 20..10240 ms, got {adv:g}")
            optional["adv_interval_ms"] = adv
        for name in ("major", "minor"):
            if name in table:
                value = table[name]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or not 0 <= value <= 0xFFFF
                ):
                    raise self.fail(
                        f"{key}.{name}", f"must be an integer 0..65535, got {_show(value)}"
                    )
                optional[name] = value
        for name in ("uuid", "eddystone_namespace", "eddystone_instance"):
            if name in table:
                optional[name] = self.string(table, f"{key}.{name}")
        return Beacon(id=str(raw_id), x_m=x, y_m=y, tx_power_dbm=tx, **optional)
