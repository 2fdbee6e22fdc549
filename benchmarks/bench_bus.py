"""Bus benchmark: replay -> Mosquitto -> `instore run` -> events, beside plain baselines.

Prints a table: raw paho QoS 1 publish rate, the replay's publish rate, the engine alone
in batch (no bus), the end-to-end rate (first observation in to the end of stream
processed, all events published) and the event latency at real-time pace (from the
triggering observation's arrival at `instore run` to the event's publication).

    python benchmarks/bench_bus.py                # ~3 minutes on a quiet 2-core machine
    python benchmarks/bench_bus.py --shoppers 20 --latency-s 30   # quicker

Mosquitto is a private process of this script, configured like examples/mosquitto
(no auth): set_tcp_nodelay, no queue limit.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from positioning.engine import Engine
from positioning.layout import load_layout
from presence.bus import DEFAULT_MAX_INFLIGHT, BusClient, BusConfig
from presence.payloads import encode_observations
from presence.replay import replay_log, scans
from presence.testing import Instore, PrivateMosquitto, simulated_day
from sim.obslog import read_observation_log, write_observation_log

REPO = Path(__file__).resolve().parent.parent
FASHION = REPO / "examples" / "stores" / "fashion.toml"


def raw_paho_rate(url_port: int, payloads: list[bytes]) -> float:
    """Messages/s of a bare paho client publishing QoS 1 with the same in-flight window."""
    done = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(DEFAULT_MAX_INFLIGHT)
    client.on_publish = lambda *a: done.append(1)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    start = time.perf_counter()
    for p in payloads:
        client.publish("bench/raw", p, qos=1)
    while len(done) < len(payloads):
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return len(payloads) / elapsed


def run_pipeline(
    tmp: Path, url: str, log_path: Path, speed: str, name: str, window_s: float = 0.0
) -> dict[str, object]:
    stats = tmp / f"{name}.json"
    run = Instore(tmp, name, "run", "--store", str(FASHION), "--broker", url, "--until-end",
                  "--stats-json", str(stats), "--client-id", f"bench-{name}")  # fmt: skip
    run.wait_for("ready", 120)
    layout = load_layout(FASHION)
    with BusClient(BusConfig(url), "replay", persistent=False) as pub:
        report = replay_log(
            pub,
            layout,
            str(log_path),
            speed=math.inf if speed == "max" else float(speed),
            window_s=window_s,
        )
    if run.finish(600) != 0:
        raise SystemExit(run.stderr.read_text())
    out = json.loads(stats.read_text())[layout.name]
    out["replay_rows_per_s"] = report.rows_per_s
    out["replay_msgs_per_s"] = report.messages / report.elapsed_s
    out["messages"] = report.messages
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shoppers", type=int, default=60)
    ap.add_argument("--duration", default="10m")
    ap.add_argument("--latency-s", type=float, default=60.0, help="real-time window for latency")
    ap.add_argument(
        "--window-s", type=float, default=0.5, help="replay scan window for the 2nd run"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bus-"))
    day = simulated_day(tmp, FASHION, shoppers=args.shoppers, duration=args.duration)
    layout = load_layout(FASHION)
    batch = read_observation_log(day, layout.beacon_ids).batch
    n = len(batch)

    t = time.perf_counter()
    engine = Engine(layout)
    engine.push(batch)
    engine.finish()
    engine_rate = n / (time.perf_counter() - t)

    payloads = [encode_observations(d, ts, r, dt) for d, ts, r, dt in scans(batch)]
    rows_per_msg = n / len(payloads)
    windowed = [encode_observations(d, ts, r, dt) for d, ts, r, dt in scans(batch, args.window_s)]
    with PrivateMosquitto(tmp / "mosquitto") as mosq:
        raw = raw_paho_rate(mosq.port, payloads)
        e2e = run_pipeline(tmp, mosq.url, day / "observations.parquet", "max", "max")
        e2e_w = run_pipeline(
            tmp, mosq.url, day / "observations.parquet", "max", "maxw", args.window_s
        )
        # Latency: the busiest --latency-s window of the day, at real-time pace.
        t0 = float(batch.t_s[0]) + (float(batch.t_s[-1]) - float(batch.t_s[0])) / 2
        window = batch.take((batch.t_s >= t0) & (batch.t_s < t0 + args.latency_s))
        write_observation_log(tmp / "window.parquet", window)
        live = run_pipeline(tmp, mosq.url, tmp / "window.parquet", "1", "live")

    busy = float(e2e["busy_s"])  # type: ignore[arg-type]
    busy_w = float(e2e_w["busy_s"])  # type: ignore[arg-type]
    per_msg_w = n / len(windowed)
    rows = [
        ("raw paho publish, QoS 1 (baseline)", raw * rows_per_msg, raw, ""),
        ("instore replay publish (max speed)", e2e["replay_rows_per_s"], e2e["replay_msgs_per_s"], ""),
        ("engine alone, batch, no bus (baseline)", engine_rate, engine_rate / rows_per_msg, ""),
        ("replay -> Mosquitto -> run -> events", e2e["rows"] / busy, e2e["messages"] / busy,  # type: ignore[operator]
         f"{e2e['events']} events"),
        (f"  same, --scan-window {args.window_s} ({per_msg_w:.1f} obs/msg)", e2e_w["rows"] / busy_w,  # type: ignore[operator]
         e2e_w["messages"] / busy_w, f"{e2e_w['events']} events"),  # type: ignore[operator]
        (f"event latency at 1x ({args.latency_s:.0f} s window)", float("nan"), float("nan"),
         f"p50 {live['latency_p50_ms']:.0f} ms, p99 {live['latency_p99_ms']:.0f} ms, n={live['events']}"),
    ]  # fmt: skip
    print(f"\n{n:,} observations, {len(payloads):,} messages ({rows_per_msg:.2f} obs/message), "
          f"fashion store, {args.shoppers} shoppers, {args.duration}")  # fmt: skip
    print(f"{'stage':<46} {'obs/s':>10} {'msgs/s':>10}  note")
    for name, obs_s, msg_s, note in rows:
        fmt = lambda v: "" if isinstance(v, float) and np.isnan(v) else f"{float(v):,.0f}"  # noqa: E731
        print(f"{name:<46} {fmt(obs_s):>10} {fmt(msg_s):>10}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
