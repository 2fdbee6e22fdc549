"""replay -> run gives exactly the events of `instore locate` (same ids): the services on the
in-memory bus, the commands through a real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from positioning.layout import load_layout
from presence.cli import main
from presence.services.live import LiveService, StoreEngine
from presence.services.replay import DEFAULT_SCAN_WINDOW_S, replay_log, scans
from presence.testing import Collector, MemoryBus, wait_until
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import decode_event
from presence.transport.topics import Topics
from sim.obslog import read_observation_log

SHOWROOM = Path(__file__).resolve().parents[3] / "examples" / "stores" / "showroom.toml"


@pytest.fixture(scope="module")
def sim_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    args = ["simulate", "--store", str(SHOWROOM), "--shoppers", "6", "--duration", "4m"]
    assert main([*args, "--seed", "3", "-o", str(out / "day")]) == 0
    return out / "day"


@pytest.fixture(scope="module")
def located(sim_day: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    out = tmp_path_factory.mktemp("loc")
    args = ["locate", "--store", str(SHOWROOM), "--observations", str(sim_day)]
    assert main([*args, "-o", str(out), "--quiet"]) == 0
    lines = (out / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_scans_group_consecutive_rows_and_keep_order(sim_day: Path) -> None:
    batch = read_observation_log(sim_day).batch
    rows = [(s.device_id, s.t_s, b, r) for s in scans(batch) for b, r in s.rssi_dbm.items()]
    assert rows == list(
        zip(
            batch.device_id.tolist(),
            batch.t_s.tolist(),
            batch.beacon_id.tolist(),
            batch.rssi_dbm.tolist(),
            strict=True,
        )
    )


@pytest.mark.parametrize("window_s", [0.0, DEFAULT_SCAN_WINDOW_S])
def test_replay_run_gives_the_events_of_locate(
    sim_day: Path, located: list[dict[str, object]], window_s: float
) -> None:
    layout = load_layout(SHOWROOM)
    bus = MemoryBus()
    got = Collector()
    bus.subscribe(Topics(layout.name).events_filter, got)
    engine = StoreEngine(layout, bus, positions_every_s=0)
    service = LiveService([engine], bus).start()
    report = replay_log(bus, layout, str(sim_day), speed=float("inf"), window_s=window_s)
    assert wait_until(lambda: engine.stats.streams_ended == 1, 60)
    assert wait_until(lambda: len(got) >= len(located), 20)
    service.stop()
    assert report.rows == sum(1 for _ in read_observation_log(sim_day).batch.t_s)
    events = [decode_event(p) for _t, p in got.snapshot()]
    assert len(located) > 10
    assert [e.id for e in events] == [e["id"] for e in located]
    got_events = [e.to_cloudevent() for e in events]
    if window_s == 0:
        assert got_events == located  # the log's exact order: exactly the batch events
    else:  # rows reach the engine up to window_s out of order: detected a little later
        for live, batch in zip(got_events, located, strict=True):
            live_data, batch_data = dict(live["data"]), dict(batch["data"])  # type: ignore[call-overload]
            late_s = live_data.pop("detected_at") - batch_data.pop("detected_at")
            assert {**live, "data": live_data} == {**batch, "data": batch_data}
            assert 0 <= late_s <= window_s + 1e-6
    assert engine.stats.deadletters == {}
    assert len(engine.stats.latencies_s) > len(located) // 2  # every event of a pushed batch


@pytest.mark.broker
def test_replay_command_publishes_every_usable_row(
    mqtt_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "obs.csv"
    log.write_text(
        "t,device_id,beacon_id,rssi\n"
        "100.0,d1,s1,-60\n100.0,d1,s2,-70\n100.5,d2,s1,-65\n101.0,d1,zz,-60\n101.0,d1,s3,5\n"
    )
    layout = load_layout(SHOWROOM)
    got = Collector()
    with BusClient(BusConfig(mqtt_url), "watch", persistent=False) as watch:
        watch.subscribe(Topics(layout.name).obs_filter, got)
        watch.subscribe(Topics(layout.name).control, got)
        args = ["replay", "--store", str(SHOWROOM), "--observations", str(log)]
        assert main([*args, "--broker", mqtt_url, "--speed", "max", "--quiet"]) == 0
        assert wait_until(lambda: len(got) >= 3, 10)
    topics = [t for t, _p in got.snapshot()]
    assert topics == [
        Topics(layout.name).obs("d1"),
        Topics(layout.name).obs("d2"),
        Topics(layout.name).control,
    ]
    out = capsys.readouterr().out
    assert "3 observations in 2 messages" in out
    assert "1 rssi_out_of_range" in out and "1 unknown_beacon" in out
    assert (
        main(["replay", "--store", str(SHOWROOM), "--observations", str(log), "--speed", "fast"])
        == 2
    )


def test_windowed_scans_carry_every_row_exactly(sim_day: Path) -> None:
    batch = read_observation_log(sim_day).batch
    messages = list(scans(batch, window_s=0.5))
    assert len(messages) < len(batch) / 2
    rows = sorted(
        (s.device_id, s.t_s + (s.dt_s or {}).get(b, 0.0), b, r)
        for s in messages
        for b, r in s.rssi_dbm.items()
    )
    expected = zip(
        batch.device_id.tolist(),
        batch.t_s.tolist(),
        batch.beacon_id.tolist(),
        batch.rssi_dbm.tolist(),
        strict=True,
    )
    assert rows == sorted(expected)  # exact floats: t + (t_i - t) == t_i for times this close
    assert all(max((s.dt_s or {"": 0.0}).values()) <= 0.5 for s in messages)


@pytest.mark.broker
def test_replay_command_groups_a_scan_window(
    mqtt_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "obs.csv"
    log.write_text(
        "t,device_id,beacon_id,rssi\n100.0,d1,s1,-60\n100.5,d1,s2,-70\n101.5,d1,s1,-61\n"
    )
    args = ["replay", "--store", str(SHOWROOM), "--observations", str(log), "--broker", mqtt_url]
    assert main([*args, "--speed", "max", "--quiet"]) == 0  # default: the 0.9 s scan cycle
    assert "3 observations in 2 messages" in capsys.readouterr().out
    assert main([*args, "--speed", "max", "--quiet", "--scan-window", "0"]) == 0
    assert "3 observations in 3 messages" in capsys.readouterr().out
