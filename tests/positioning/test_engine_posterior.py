"""The engine's store rule with a locator that reports its own inside probability."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from engine_synth import observe, walk

from beacons.observation import ObservationBatch
from positioning.engine import Engine, EngineOutput, EngineParams
from positioning.events import STORE_ENTER
from positioning.layout import Layout, load_layout
from positioning.locator import PositionFix
from positioning.registry import make_locator
from positioning.tracker.filter import ParticleTracker
from positioning.zonemap import ZoneIndex

T0_S = 1_700_000_000.0
#: The scripted device: heard from T0, its posterior says "inside" from T0 + INSIDE_AFTER_S.
INSIDE_AFTER_S = 25.0


@pytest.fixture(scope="module")
def fashion() -> Layout:
    return load_layout(Path(__file__).parents[2] / "examples" / "stores" / "fashion.toml")


class PosteriorLocator:
    """A locator whose fixes stay 0.5 m inside the door with a 1 m radius, and whose
    posterior inside probability (``p_inside``) rises from 0.2 to 0.999 at a known time:
    the engine must follow the posterior, not the fix."""

    name = "posterior"

    def __init__(self, with_posterior: bool) -> None:
        self._with = with_posterior
        self._heard: dict[str, float] = {}

    def observe(self, batch: ObservationBatch) -> None:
        for device, t in zip(batch.device_id.tolist(), batch.t_s.tolist(), strict=True):
            self._heard[device] = max(t, self._heard.get(device, -np.inf))

    def estimate(self, t_s: float) -> PositionFix:
        ids = sorted(d for d, t in self._heard.items() if t > t_s - 2.0)
        n = len(ids)
        p = np.full(n, 0.999 if t_s >= T0_S + INSIDE_AFTER_S else 0.2)
        return PositionFix(
            t_s,
            np.array(ids, dtype=str),
            np.tile([15.0, 0.5], (n, 1)),
            np.ones(n),
            np.full(n, 8, dtype=np.int64),
            p if self._with else None,
        )

    def forget(self, device_ids: Iterable[str]) -> None:
        for device in device_ids:
            self._heard.pop(device, None)


def rows(fashion: Layout) -> ObservationBatch:
    t = T0_S + np.arange(0.0, 60.0, 0.25)
    beacon = fashion.beacon_ids[0]
    return ObservationBatch(
        t, np.full(len(t), "dev1"), np.full(len(t), beacon), np.full(len(t), -70.0)
    )


def run(fashion: Layout, with_posterior: bool, params: EngineParams | None = None) -> EngineOutput:
    engine = Engine(fashion, params or EngineParams(), locator=PosteriorLocator(with_posterior))
    return EngineOutput.concat([engine.push(rows(fashion)), engine.finish()])


@pytest.mark.parametrize("sure_p", [0.99, None])
def test_the_posterior_decides_the_enter_and_its_detection_time(
    fashion: Layout, sure_p: float | None
) -> None:
    base = EngineParams()
    params = dataclasses.replace(base, store=dataclasses.replace(base.store, enter_sure_p=sure_p))
    out = run(fashion, with_posterior=True, params=params)
    enters = [e for e in out.events if e.type == STORE_ENTER]
    assert len(enters) == 1
    # detected once p >= enter_p held for enter_min_s (at once when p >= enter_sure_p: the
    # posterior jumps to 0.999) and the reorder buffer let it go
    hold_s = 0.0 if sure_p is not None else params.store.enter_min_s
    expected = T0_S + INSIDE_AFTER_S + hold_s + params.reorder_s
    assert enters[0].detected_at_s == pytest.approx(expected, abs=0.3)
    # dated to the (fix's) door crossing: the first fix, already past the front
    assert enters[0].time_s <= T0_S + INSIDE_AFTER_S


def test_without_a_posterior_the_fix_decides(fashion: Layout) -> None:
    # 0.5 m inside with a 1 m radius: p = 0.69 < 0.975, never an enter
    out = run(fashion, with_posterior=False)
    assert not [e for e in out.events if e.type == STORE_ENTER]


def test_the_trackers_zone_probability_follows_its_cloud(fashion: Layout) -> None:
    """A device standing mid-zone (between the shelves of "mens", 10 x 9 m) ends sure of
    its zone; the baselines report no zone probability."""
    rng = np.random.default_rng(5)
    batch = observe(fashion, "d", walk([(0, 25, 4.9), (40, 25, 5.1)]), rng)
    tracker = ParticleTracker(fashion, seed=1)
    tracker.observe(batch)
    fix = tracker.estimate(T0_S + 40.0)
    assert fix.p_zone is not None and len(fix.p_zone) == len(fix) == 1
    mens = [z.name for z in fashion.zones].index("mens")
    assert ZoneIndex(fashion)(fix.xy_m)[0] == mens
    assert fix.p_zone[0] > 0.9
    centroid = make_locator("centroid", fashion)
    centroid.observe(batch)
    assert centroid.estimate(T0_S + 40.0).p_zone is None
