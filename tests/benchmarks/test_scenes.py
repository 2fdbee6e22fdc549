"""The scene scorer agrees with shared/tools/score.py; scripted scenes are seeded and sane."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import accuracy
from benchmarks.scenes import RECORDINGS, load_scene, score
from benchmarks.scripted import SCRIPTED, write_scripted

#: The team's scoring tool beside a checkout or a worktree, if it is there.
SHARED_SCORE_PY = next(
    (
        p
        for p in (
            accuracy.REPO.parent / "shared" / "tools" / "score.py",
            accuracy.REPO.parent.parent / "shared" / "tools" / "score.py",
        )
        if p.exists()
    ),
    None,
)
#: Its verbatim copy kept with the recordings, so a fresh clone checks against it too.
SCORE_PY = SHARED_SCORE_PY or RECORDINGS / "score.py"


@pytest.mark.skipif(
    SHARED_SCORE_PY is None, reason="shared/tools/score.py not beside this checkout"
)
def test_the_copied_scorer_is_the_teams() -> None:
    assert SHARED_SCORE_PY is not None
    copy = (RECORDINGS / "score.py").read_bytes()
    assert copy == SHARED_SCORE_PY.read_bytes(), "examples/recordings/score.py is out of date"


def test_every_recording_has_its_readme_licence_and_files() -> None:
    for name in accuracy.REAL:
        folder = RECORDINGS / name
        for f in ("README.md", "store.toml", "observations.csv", "truth.csv", "visits.csv"):
            assert (folder / f).is_file(), f"{folder}/{f}"
        assert "licen" in (folder / "README.md").read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("name", ["kolakowski-robot", "espresense-stationary"])
def test_scores_agree_with_score_py(name: str, tmp_path: Path) -> None:
    scene = load_scene(RECORDINGS / name)
    out, _ = accuracy.locate(scene.store, scene.batch, "tracker", seed=0)
    ours = score(scene, out.positions, out.events)
    out.positions.to_frame().to_csv(tmp_path / "positions.csv", index=False)
    (tmp_path / "events.jsonl").write_text(
        "".join(json.dumps(e.to_cloudevent()) + "\n" for e in out.events), encoding="utf-8"
    )
    run = subprocess.run(
        [sys.executable, str(SCORE_PY), str(RECORDINGS / name),
         "--positions", str(tmp_path / "positions.csv"), "--events", str(tmp_path / "events.jsonl")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    theirs = json.loads(run.stdout)
    pos = theirs["position"]
    assert ours["n"] == pos["n"]
    for key in ("median_m", "p90_m", "within_1sigma", "within_2sigma"):
        assert ours[key] == pytest.approx(pos[key], abs=2e-3), key
    if theirs["zone_accuracy"] is None:
        assert math.isnan(ours["zone_accuracy"])
    else:
        assert ours["zone_accuracy"] == pytest.approx(theirs["zone_accuracy"], abs=2e-4)
    assert ours["coverage_2s"] == pytest.approx(theirs["coverage_2s"], abs=2e-4)
    lat = theirs["store_enter"]["latency_median_s"]
    assert ours["enter_latency_s"] == pytest.approx(lat, abs=0.02)


def test_the_scorer_sees_a_worse_run(tmp_path: Path) -> None:
    """Shifting every fix by 3 m shows as a 3 m error; a zero sigma covers nothing."""
    scene = load_scene(RECORDINGS / "espresense-stationary")
    out, _ = accuracy.locate(scene.store, scene.batch, "centroid", seed=0)
    p = out.positions
    truth = scene.truth.iloc[0]
    from dataclasses import replace

    exact = replace(p, x_m=np.full(len(p), truth.x), y_m=np.full(len(p), truth.y))
    shifted = replace(exact, x_m=exact.x_m + 3.0, sigma_m=np.zeros(len(p)))
    assert score(scene, exact, ())["median_m"] == pytest.approx(0.0, abs=1e-9)
    s = score(scene, shifted, ())
    assert s["median_m"] == pytest.approx(3.0) and s["within_2sigma"] == 0.0


@pytest.mark.parametrize("name", ["shop-walks", "lab-walks"])
def test_scripted_scenes_are_seeded(name: str, tmp_path: Path) -> None:
    a = write_scripted(name, tmp_path / "a")
    b = write_scripted(name, tmp_path / "b")
    for f in ("observations.csv", "truth.csv", "visits.csv", "store.toml"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    scene = load_scene(a)
    assert len(scene.batch) > 10_000 and set(scene.visits.device_id) == set(scene.truth.device_id)


def test_every_scripted_scene_is_in_the_harness() -> None:
    assert set(SCRIPTED) <= set(accuracy.SCENES)
