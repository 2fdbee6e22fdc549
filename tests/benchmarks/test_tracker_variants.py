"""The harness runs a tracker variant (``--tracker KEY=VALUE``) without touching the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import accuracy


def test_tracker_settings_reach_nested_groups() -> None:
    config = accuracy.tracker_config(
        ["self_calibrate=false", "selfcal.slope_prior_rows=20000", "radio.body_loss_db=0"]
    )
    params = config.params  # type: ignore[attr-defined]
    assert params.self_calibrate is False
    assert params.selfcal.slope_prior_rows == 20000
    assert params.radio.body_loss_db == 0
    assert params.selfcal.min_rows == accuracy.TrackerParams().selfcal.min_rows


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("nope=1", "unknown tracker parameter"),
        ("selfcal.nope=1", "nope"),
        ("n_particles", "KEY=VALUE"),
        ("n_particles=abc", "not JSON"),
    ],
)
def test_bad_tracker_settings_say_what_is_wrong(setting: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        accuracy.tracker_config([setting])


def test_a_variant_changes_the_tracker_and_nothing_else(tmp_path: Path) -> None:
    variant = accuracy.tracker_config(["self_calibrate=false"])
    locators = ("centroid", "tracker")
    plain = accuracy.run_scene("kolakowski-robot", tmp_path, locators=locators)
    other = accuracy.run_scene("kolakowski-robot", tmp_path, locators=locators, tracker=variant)
    assert other["centroid"]["median_m"] == pytest.approx(plain["centroid"]["median_m"], abs=1e-9)
    assert abs(other["tracker"]["median_m"] - plain["tracker"]["median_m"]) > 0.01
