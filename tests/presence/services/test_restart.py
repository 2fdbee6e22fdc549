"""`instore run` SIGKILLed mid-replay and restarted: visits in progress survive (issue 19).

Real processes on a real broker (the embedded one and Mosquitto): the run is killed while
shoppers are in the store, restarted with the same client id and state directory, and the
events a consumer receives must be those of the uninterrupted run (equal to the batch run,
``instore locate``, as tests/presence/transport/test_reliability_restart.py shows), ids
included: no visit opened twice, every visit open at the kill closed exactly once, and no
window lost (the scan journal holds everything the broker was told was received).

``INSTORE_RESTART_REPEAT=20`` repeats the test 20 times per broker (the issue's bar).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bench_restart import SHOWROOM, kill_and_restart
from presence.testing import Instore, simulated_day

REPEAT = int(os.environ.get("INSTORE_RESTART_REPEAT", "1"))

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    yield
    Instore.kill_all()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_day(tmp_path_factory.getbasetemp(), SHOWROOM)


@pytest.mark.parametrize("attempt", range(REPEAT))
def test_killed_run_resumes_visits_in_progress(
    mqtt_url: str, day: Path, tmp_path: Path, attempt: int
) -> None:
    # Attempts vary the checkpoint interval (the default, or several checkpoints before the
    # kill) and the moment of the kill (just after an event went out, or up to 0.45 s later).
    every = ["--checkpoint-every", "0.5"] if attempt % 2 else []
    out = kill_and_restart(mqtt_url, day, tmp_path, *every, delay_s=0.15 * (attempt % 4))
    reference = {e.id: e for e in out.reference}
    got = set(out.deliveries)
    why = (
        f"attempt {attempt}: {len(set(reference) - got)} of {len(reference)} events missing, "
        f"{len(got - set(reference))} not in the uninterrupted run; "
        f"open at kill {sorted(out.open_at_kill)}; run2 {out.stats}"
    )
    assert out.open_at_kill, "the kill came when no visit was open: the test proves nothing"
    sequences = out.visit_sequences()
    for device in out.open_at_kill:
        seq = sequences[device]
        # Never a second enter for the visit in progress; closed exactly once.
        assert all(a != b for a, b in zip(seq, seq[1:], strict=False)), (device, seq, why)
        assert seq[-1] == "exit", (device, seq, why)
    # The lost window is empty: every event of the uninterrupted run, none other.
    assert got == set(reference), why
    assert out.stats["streams_ended"] == 1, why


def test_stopped_run_resumes_visits_in_progress(mqtt_url: str, day: Path, tmp_path: Path) -> None:
    """SIGTERM (a deploy): the last checkpoint is written on the way out."""
    out = kill_and_restart(mqtt_url, day, tmp_path, sig=signal.SIGTERM)
    assert out.open_at_kill
    assert set(out.deliveries) == {e.id for e in out.reference}, out.stats
    assert sum(out.deliveries.values()) == len(out.deliveries)  # drained: nothing sent twice
