"""Scripted scenes: seeded recordings of a few devices on a written script, with a radio model
written apart from ``sim/`` (so it can break each of the tracker's model terms in turn).

Each scene is written as a recorded-scene folder (:mod:`benchmarks.scenes`): store.toml,
observations.csv, truth.csv, visits.csv. The scenes reproduce what went wrong on real
recordings (issue 16):

- ``lab-six-spots-3h``: a 21 x 18 m lab, 12 fixed receivers, no entrance; one phone left
  30 min at each of six spots in turn (carried between them): three hours, one visit.
- ``lab-walks``: the same lab, two phones carried on walks with stops, 15 min.
- ``shop-walks``: a 20 x 14 m shop with 10 ceiling beacons and four zones, three phones
  carried on walks with stops, 15 min: the model's own assumptions (body loss behind the
  carrier, ceiling height, the declared exponent) hold.
- ``shop-no-body``: the same, with no body between phone and beacon (a tag on a trolley).
- ``shop-no-height``: the same, beacons at the phone's height (declared so in the layout).
- ``shop-exponent-3``: the same, a path-loss exponent of 3.0 where the layout declares 2.0.

Radio: RSSI = tx + beacon offset + device offset - 10 n log10(3-D distance) - body loss
(beacon behind the carrier, who faces the way they last walked) - shadowing (a smooth
Gaussian field per radio, random Fourier features, 3 m correlation) + fast fading, rounded
to whole dB; packets under the sensitivity or lost (10 %) are dropped. Each radio reports
about once a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["SCRIPTED", "ScriptRadio", "write_scripted"]

FloatArray = npt.NDArray[np.float64]

#: Truth sampling rate, Hz (the recordings' 4 Hz).
TRUTH_HZ = 4.0
#: Scripted scenes start at a fixed Monday 10:00 UTC.
START_S = 1_763_978_400.0
WALK_SPEED_M_S = 1.1


@dataclass(frozen=True, slots=True)
class ScriptRadio:
    exponent: float = 2.0
    body_loss_db: float = 7.0
    shadowing_db: float = 4.0
    shadowing_corr_m: float = 3.0
    fading_db: float = 3.0
    beacon_offset_db: float = 2.0
    device_offset_db: float = 3.0
    device_height_m: float = 1.2
    report_hz: float = 1.0
    packet_loss: float = 0.1
    sensitivity_dbm: float = -95.0


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    width_m: float
    height_m: float
    radios: tuple[tuple[str, float, float, float], ...]  # id, x, y, z (true)
    declared_z: bool = True  # the layout gives each radio's z
    zones: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = ()
    tx_power_dbm: float = -59.0

    def toml(self, comment: str) -> str:
        lines = [f"# {comment}", "", "[store]", f'name = "{self.name}"']
        lines += [f"width = {self.width_m}", f"height = {self.height_m}", ""]
        for rid, x, y, z in self.radios:
            lines += ["[[beacons]]", f'id = "{rid}"', f"x = {x}", f"y = {y}"]
            lines += [f"z = {z}"] if self.declared_z else []
            lines += [f"tx_power = {self.tx_power_dbm}", ""]
        for name, poly in self.zones:
            pts = ", ".join(f"[{x}, {y}]" for x, y in poly)
            lines += ["[[zones]]", f'name = "{name}"', f"polygon = [{pts}]", ""]
        return "\n".join(lines)


def _lab() -> Site:
    xs, ys = (1.0, 7.5, 13.5, 20.0), (1.0, 9.0, 17.0)
    radios = tuple(
        (f"r{i + 1}", x, y, 2.5) for i, (x, y) in enumerate((x, y) for y in ys for x in xs)
    )
    return Site("scripted-lab", 21.0, 18.0, radios)


def _shop(z: float = 2.7) -> Site:
    pts = (
        (2, 2),
        (8, 1),
        (14, 2),
        (19, 1.5),
        (1, 7),
        (7, 7),
        (13, 7),
        (19, 7),
        (4, 12.5),
        (16, 12),
    )
    radios = tuple((f"b{i + 1}", float(x), float(y), z) for i, (x, y) in enumerate(pts))
    zones = (
        ("front", ((0.0, 0.0), (10.0, 0.0), (10.0, 7.0), (0.0, 7.0))),
        ("shoes", ((10.0, 0.0), (20.0, 0.0), (20.0, 7.0), (10.0, 7.0))),
        ("back-left", ((0.0, 7.0), (10.0, 7.0), (10.0, 14.0), (0.0, 14.0))),
        ("back-right", ((10.0, 7.0), (20.0, 7.0), (20.0, 14.0), (10.0, 14.0))),
    )
    return Site("scripted-shop", 20.0, 14.0, radios, zones=zones)


# -- scripts: (t, x, y, carried) knots -----------------------------------------------------


def _walk_to(
    knots: list[tuple[float, float, float, bool]], x: float, y: float, stay_s: float, carried: bool
) -> None:
    t0, x0, y0, _ = knots[-1]
    t1 = t0 + math.hypot(x - x0, y - y0) / WALK_SPEED_M_S
    knots.append((t1, x, y, True))
    knots.append((t1 + stay_s, x, y, carried))


def _six_spots(
    rng: np.random.Generator, site: Site
) -> list[list[tuple[float, float, float, bool]]]:
    spots = ((3.0, 3.0), (10.5, 4.0), (18.0, 3.5), (17.5, 14.0), (10.0, 13.0), (3.5, 15.0))
    knots = [(0.0, *spots[0], False), (1800.0, *spots[0], False)]
    for x, y in spots[1:]:
        _walk_to(knots, x, y, 1800.0, carried=False)  # the phone lies on a table
    return [knots]


def _walks(
    devices: int, duration_s: float
) -> Callable[[np.random.Generator, Site], list[list[tuple[float, float, float, bool]]]]:
    def script(
        rng: np.random.Generator, site: Site
    ) -> list[list[tuple[float, float, float, bool]]]:
        out = []
        for _ in range(devices):
            x, y = rng.uniform(1, site.width_m - 1), rng.uniform(1, site.height_m - 1)
            knots = [(0.0, x, y, True)]
            while knots[-1][0] < duration_s:
                x, y = rng.uniform(1, site.width_m - 1), rng.uniform(1, site.height_m - 1)
                _walk_to(knots, x, y, float(rng.uniform(5.0, 60.0)), carried=True)
            out.append(knots)
        return out

    return script


def _sample(knots: list[tuple[float, float, float, bool]]) -> tuple[FloatArray, ...]:
    """Truth at TRUTH_HZ: t, x, y, heading (rad, the way last walked), carried (0/1)."""
    k = np.array([(t, x, y, float(c)) for t, x, y, c in knots])
    t = np.arange(0.0, k[-1, 0] + 1e-9, 1.0 / TRUTH_HZ)
    x, y = np.interp(t, k[:, 0], k[:, 1]), np.interp(t, k[:, 0], k[:, 2])
    seg = np.clip(np.searchsorted(k[:, 0], t, side="right") - 1, 0, len(k) - 1)
    carried = k[seg, 3]
    step = np.hypot(np.diff(x, prepend=x[0]), np.diff(y, prepend=y[0]))
    raw = np.arctan2(np.diff(y, prepend=y[0]), np.diff(x, prepend=x[0]))
    moving = step > 1e-6
    idx = np.maximum.accumulate(np.where(moving, np.arange(len(t)), 0))
    heading = np.where(moving[idx], raw[idx], 0.0)
    return t, x, y, heading, carried


class _Shadowing:
    """A smooth Gaussian field per radio (random Fourier features), unit variance."""

    def __init__(self, rng: np.random.Generator, radios: int, corr_m: float, waves: int = 32):
        self.w = rng.normal(0.0, 1.0 / corr_m, size=(radios, waves, 2))
        self.phase = rng.uniform(0, 2 * math.pi, size=(radios, waves))
        self.scale = math.sqrt(2.0 / waves)

    def __call__(self, r: int, x: FloatArray, y: FloatArray) -> FloatArray:
        arg = np.outer(x, self.w[r, :, 0]) + np.outer(y, self.w[r, :, 1]) + self.phase[r]
        return self.scale * np.cos(arg).sum(axis=1)


def _observations(
    rng: np.random.Generator,
    site: Site,
    radio: ScriptRadio,
    device: str,
    truth: tuple[FloatArray, ...],
) -> pd.DataFrame:
    t, x, y, heading, carried = truth
    shadow = _Shadowing(rng, len(site.radios), radio.shadowing_corr_m)
    offsets = rng.normal(0.0, radio.beacon_offset_db, len(site.radios))
    dev_offset = float(rng.normal(0.0, radio.device_offset_db))
    rows = []
    for r, (rid, rx, ry, rz) in enumerate(site.radios):
        phase = rng.uniform(0.0, 1.0 / radio.report_hz)
        tr = np.arange(phase, t[-1], 1.0 / radio.report_hz)
        tr = tr + rng.uniform(-0.05, 0.05, len(tr))
        tr = tr[(tr >= 0) & (tr <= t[-1])]
        px, py = np.interp(tr, t, x), np.interp(tr, t, y)
        i = np.clip(np.searchsorted(t, tr), 0, len(t) - 1)
        d = np.sqrt((px - rx) ** 2 + (py - ry) ** 2 + (rz - radio.device_height_m) ** 2)
        d = np.maximum(d, 0.5)
        bearing = np.arctan2(ry - py, rx - px)
        behind = (np.cos(bearing - heading[i]) < -0.3) & (carried[i] > 0.5)
        rssi = (
            site.tx_power_dbm + offsets[r] + dev_offset - 10 * radio.exponent * np.log10(d)
            - radio.body_loss_db * behind - radio.shadowing_db * shadow(r, px, py)
            + rng.normal(0.0, radio.fading_db, len(tr))
        )  # fmt: skip
        rssi = np.round(rssi)
        keep = (rssi >= radio.sensitivity_dbm) & (rng.random(len(tr)) >= radio.packet_loss)
        rows.append(pd.DataFrame({"t": tr[keep], "beacon_id": rid, "rssi": rssi[keep]}))
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(1, "device_id", device)
    return frame


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    site: Site
    radio: ScriptRadio
    script: Callable[[np.random.Generator, Site], list[list[tuple[float, float, float, bool]]]]
    seed: int
    about: str


SCRIPTED = {
    s.name: s
    for s in (
        Script("lab-six-spots-3h", _lab(), ScriptRadio(exponent=2.2), _six_spots, 31,
               "one phone 30 min at each of six spots, 12 receivers, no entrance"),
        Script("lab-walks", _lab(), ScriptRadio(exponent=2.2), _walks(2, 900.0), 32,
               "two phones walked in the receivers lab, no entrance"),
        Script("shop-walks", _shop(), ScriptRadio(), _walks(3, 900.0), 33,
               "three phones walked, 10 ceiling beacons; the model's assumptions hold"),
        Script("shop-no-body", _shop(), ScriptRadio(body_loss_db=0.0), _walks(3, 900.0), 34,
               "as shop-walks, no body between phone and beacon"),
        Script("shop-no-height", _shop(z=1.2), ScriptRadio(), _walks(3, 900.0), 35,
               "as shop-walks, beacons at the phone's height (declared)"),
        Script("shop-exponent-3", _shop(), ScriptRadio(exponent=3.0), _walks(3, 900.0), 36,
               "as shop-walks, path-loss exponent 3.0 where the layout declares 2.0"),
    )
}  # fmt: skip


def write_scripted(name: str, out_dir: Path) -> Path:
    """Write scripted scene ``name`` into ``out_dir/name`` (seeded: the same files every time)."""
    s = SCRIPTED[name]
    rng = np.random.default_rng(s.seed)
    path = out_dir / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "store.toml").write_text(s.site.toml(f"scripted scene {name}: {s.about}") + "\n")
    obs, truth, visits = [], [], []
    for k, knots in enumerate(s.script(rng, s.site)):
        device = f"phone-{k + 1}"
        sampled = _sample(knots)
        t, x, y = sampled[0], sampled[1], sampled[2]
        obs.append(_observations(rng, replace(s.site), s.radio, device, sampled))
        truth.append(pd.DataFrame({"t": START_S + t, "device_id": device, "x": x, "y": y}))
        visits.append((device, START_S + t[0], START_S + t[-1]))
    frame = pd.concat(obs, ignore_index=True)
    frame["t"] = START_S + frame["t"]
    frame = frame.sort_values("t", kind="stable")
    frame.to_csv(path / "observations.csv", index=False, float_format="%.3f")
    pd.concat(truth).to_csv(path / "truth.csv", index=False, float_format="%.3f")
    pd.DataFrame(visits, columns=["device_id", "t_enter", "t_exit"]).to_csv(
        path / "visits.csv", index=False, float_format="%.3f"
    )
    return path
