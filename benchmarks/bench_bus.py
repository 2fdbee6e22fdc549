"""Bus benchmark: replay -> Mosquitto -> `instore run` -> events, beside plain baselines.

Prints a table: raw paho QoS 1 publish rate (messages of one reading, and of a scan
window), the replay's publish rate, the engine alone in batch (no bus), the end-to-end
rate (first observation in to the end of stream processed, all events published) with
one message per reading and with ``--scan-window``, and the event latency at real-time
pace (from the triggering observation's arrival at `instore run` to the event's
publication). A second table splits the time: the engine thread's time and CPU inside
the positioning engine, the rest of `run`'s CPU (the bus), Mosquitto's and the replay's.

    python benchmarks/bench_bus.py                # ~4 minutes on a quiet 2-core machine
    python benchmarks/bench_bus.py --shoppers 20 --latency-s 30   # quicker
    python benchmarks/bench_bus.py --stages window2              # one end-to-end run (~1 min)

Mosquitto is a private process of this script, configured like examples/mosquitto
(no auth): set_tcp_nodelay, no queue limit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from positioning.engine import Engine
from positioning.layout import load_layout
from presence.services.replay import replay_log, scans
from presence.testing import Instore, PrivateMosquitto, simulated_day
from presence.transport.bus import DEFAULT_MAX_BUFFERED, DEFAULT_MAX_INFLIGHT, BusClient, BusConfig
from presence.transport.payloads import encode_scan
from sim.obslog import read_observation_log, write_observation_log

REPO = Path(__file__).resolve().parent.parent
FASHION = REPO / "examples" / "stores" / "fashion.toml"
#: What can be measured (--stages): raw paho publish baselines, the engine alone, the
#: end-to-end runs (one message per log row, both scan windows) and the latency at 1x.
STAGES = ("raw", "recv", "engine", "drain", "max", "window", "window2", "latency")
NOT_RUN: dict[str, Any] = {
    "rows": math.nan, "busy_s": math.nan, "messages": math.nan, "events": "-",
    "engine_s": math.nan, "engine_cpu_s": math.nan, "run_cpu_s": math.nan,
    "mosquitto_cpu_s": math.nan, "replay_cpu_s": math.nan, "replay_rows_per_s": math.nan,
    "replay_msgs_per_s": math.nan, "latency_p50_ms": math.nan, "latency_p99_ms": math.nan,
}  # fmt: skip


def cpu_s(pid: int) -> float:
    """CPU time (user + system) of a process so far, seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_paho_rate(url_port: int, payloads: list[bytes], topic: str = "bench/raw") -> float:
    """Messages/s of a bare paho client publishing QoS 1 with the same in-flight window and
    the same bound on unacknowledged messages as BusClient (paho reuses its 16-bit message
    ids past 65,535 unacknowledged, and then never reports some messages as published)."""
    window = threading.Semaphore(DEFAULT_MAX_BUFFERED)
    done = []
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(DEFAULT_MAX_INFLIGHT)

    def on_publish(*_a: object) -> None:
        done.append(1)
        window.release()

    client.on_publish = on_publish
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit("raw paho client: no CONNACK within 10 s")
    start = time.perf_counter()
    for p in payloads:
        window.acquire()
        client.publish(topic, p, qos=1)
    deadline = time.monotonic() + 300
    while len(done) < len(payloads):
        if time.monotonic() > deadline:
            raise SystemExit(f"raw paho client: {len(done)} of {len(payloads)} acknowledged")
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return len(payloads) / elapsed


def paho_receive_cost(port: int, payloads: list[bytes], protocol: int) -> tuple[float, float]:
    """(CPU µs per message, messages/s) of a bare paho client receiving QoS 1 messages the
    broker queued for its persistent session, with a handler that does nothing."""
    cid = f"bench-recv-{protocol}-{os.getpid()}"
    got, connected = [0], threading.Event()

    def client() -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=protocol,
                        clean_session=None if protocol == mqtt.MQTTv5 else False)  # fmt: skip
        c.on_connect = lambda *a: connected.set()
        c.on_message = lambda *a: got.__setitem__(0, got[0] + 1)
        return c

    def connect(c: mqtt.Client) -> None:
        connected.clear()
        if protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 600
            c.connect("127.0.0.1", port, clean_start=False, properties=props)
        else:
            c.connect("127.0.0.1", port)
        c.loop_start()
        if not connected.wait(10):
            raise SystemExit("receive benchmark: no CONNACK")

    sub = client()
    connect(sub)
    sub.subscribe("bench/recv", qos=1)
    time.sleep(0.5)
    sub.loop_stop()
    sub.disconnect()
    raw_paho_rate(port, payloads, "bench/recv")  # queued by the broker for the session
    sub = client()
    cpu0, t0 = time.process_time(), time.perf_counter()
    connect(sub)
    deadline = time.monotonic() + 300
    while got[0] < len(payloads) and time.monotonic() < deadline:
        time.sleep(0.002)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    sub.loop_stop()
    sub.disconnect()
    return cpu / got[0] * 1e6, got[0] / wall


def run_pipeline(
    tmp: Path, mosq: PrivateMosquitto, log_path: Path, speed: str, name: str, window_s: float = 0.0
) -> dict[str, Any]:
    """replay -> Mosquitto -> `instore run` (a real process); its stats, with CPU seconds of
    each process over the run."""
    stats = tmp / f"{name}.json"
    url = mosq.url
    run = Instore(tmp, name, "run", "--store", str(FASHION), "--broker", url, "--until-end",
                  "--stats-json", str(stats), "--client-id", f"bench-{name}")  # fmt: skip
    run.wait_for("ready", 120)
    layout = load_layout(FASHION)
    assert mosq.proc is not None
    run_cpu0, mosq_cpu0, replay_cpu0 = (
        cpu_s(run.proc.pid),
        cpu_s(mosq.proc.pid),
        time.process_time(),
    )
    with BusClient(BusConfig(url), "replay", persistent=False) as pub:
        report = replay_log(
            pub,
            layout,
            str(log_path),
            speed=math.inf if speed == "max" else float(speed),
            window_s=window_s,
        )
    replay_cpu = time.process_time() - replay_cpu0
    if run.finish(600) != 0:
        raise SystemExit(run.stderr.read_text())
    out: dict[str, Any] = json.loads(stats.read_text())[layout.name]
    # (older `instore run` versions report neither engine time nor CPU time: nan)
    out["run_cpu_s"] = out.get("process_cpu_s", math.nan) - run_cpu0
    out.setdefault("engine_s", math.nan)
    out.setdefault("engine_cpu_s", math.nan)
    out["mosquitto_cpu_s"] = cpu_s(mosq.proc.pid) - mosq_cpu0
    out["replay_cpu_s"] = replay_cpu
    out["replay_rows_per_s"] = report.rows_per_s
    out["replay_msgs_per_s"] = report.messages / report.elapsed_s
    out["messages"] = report.messages
    return out


def drain_queue(
    tmp: Path, mosq: PrivateMosquitto, log_path: Path, window_s: float
) -> dict[str, Any]:
    """`instore run` alone, draining what the broker queued for its session while it was
    down (the replay is over before it starts: no CPU shared with the publisher)."""
    stats, url = tmp / "drain.json", mosq.url
    args = ["run", "--store", str(FASHION), "--broker", url, "--client-id", "bench-drain"]
    first = Instore(tmp, "drain0", *args)
    first.wait_for("ready", 120)  # creates the persistent session and its subscription
    first.proc.terminate()
    first.finish(30)
    with BusClient(BusConfig(url), "replay", persistent=False) as pub:
        report = replay_log(pub, load_layout(FASHION), str(log_path), speed=math.inf,
                            window_s=window_s)  # fmt: skip
    run = Instore(tmp, "drain", *args, "--until-end", "--stats-json", str(stats))
    if run.finish(600) != 0:
        raise SystemExit(run.stderr.read_text())
    out: dict[str, Any] = json.loads(stats.read_text())[load_layout(FASHION).name]
    out["run_cpu_s"] = out["process_cpu_s"]
    out["messages"] = report.messages
    out["mosquitto_cpu_s"] = out["replay_cpu_s"] = math.nan
    return out


def _rates(r: dict[str, Any]) -> tuple[float, float]:
    """(observations/s, messages/s) over the run's busy time (first arrival to last push)."""
    busy = float(r["busy_s"])
    return r["rows"] / busy, r["messages"] / busy


def _fmt(v: float) -> str:
    return "" if math.isnan(v) else f"{v:,.0f}"


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
    ap.add_argument(
        "--window2-s",
        type=float,
        default=0.9,
        help="replay scan window for the 3rd run (below the engine's 1 s reorder tolerance)",
    )
    ap.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated subset of {','.join(STAGES)} (default: all)",
    )
    args = ap.parse_args()
    stages = set(args.stages.split(","))
    if not stages <= set(STAGES):
        ap.error(f"--stages: unknown {sorted(stages - set(STAGES))}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-bus-"))
    day = simulated_day(tmp, FASHION, shoppers=args.shoppers, duration=args.duration)
    layout = load_layout(FASHION)
    batch = read_observation_log(day, layout.beacon_ids).batch
    n = len(batch)

    engine_rate = math.nan
    if "engine" in stages:
        t = time.perf_counter()
        engine = Engine(layout)
        engine.push(batch)
        engine.finish()
        engine_rate = n / (time.perf_counter() - t)

    payloads = [encode_scan(s) for s in scans(batch)]
    rows_per_msg = n / len(payloads)
    windowed = [encode_scan(s) for s in scans(batch, args.window_s)]
    with PrivateMosquitto(tmp / "mosquitto") as mosq:
        raw = raw_w = math.nan
        if "raw" in stages:
            raw = raw_paho_rate(mosq.port, payloads)
            raw_w = raw_paho_rate(mosq.port, windowed)
        if "recv" in stages:
            for proto, label in ((mqtt.MQTTv5, "MQTT 5"), (mqtt.MQTTv311, "MQTT 3.1.1")):
                us, rate = paho_receive_cost(mosq.port, windowed, proto)
                print(f"paho receive, {label}, QoS 1, no-op handler: {us:.0f} µs CPU/message "
                      f"(publisher idle), {rate:,.0f} messages/s")  # fmt: skip
        obs_path = day / "observations.parquet"
        e2e, e2e_w, e2e_w2, live, drain = NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN
        if "drain" in stages:
            drain = drain_queue(tmp, mosq, obs_path, args.window2_s)
        if "max" in stages:
            e2e = run_pipeline(tmp, mosq, obs_path, "max", "max")
        if "window" in stages:
            e2e_w = run_pipeline(tmp, mosq, obs_path, "max", "maxw", args.window_s)
        if "window2" in stages:
            e2e_w2 = run_pipeline(tmp, mosq, obs_path, "max", "maxw2", args.window2_s)
        if "latency" in stages:
            # The busiest --latency-s window of the day, at real-time pace.
            t0 = float(batch.t_s[0]) + (float(batch.t_s[-1]) - float(batch.t_s[0])) / 2
            window = batch.take((batch.t_s >= t0) & (batch.t_s < t0 + args.latency_s))
            write_observation_log(tmp / "window.parquet", window)
            live = run_pipeline(tmp, mosq, tmp / "window.parquet", "1", "live")

    per_msg_w = n / len(windowed)
    per_msg_w2 = n / float(e2e_w2["messages"])
    w = f"--scan-window {args.window_s}"
    w2 = f"--scan-window {args.window2_s}"
    rows = [
        ("raw paho publish, QoS 1 (baseline)", raw * rows_per_msg, raw, ""),
        (f"raw paho publish, QoS 1, {w} payloads", raw_w * per_msg_w, raw_w, ""),
        ("engine alone, batch, no bus (baseline)", engine_rate, math.nan, ""),
        ("instore replay publish (max speed)", e2e["replay_rows_per_s"], e2e["replay_msgs_per_s"], ""),
        ("replay -> Mosquitto -> run -> events", *_rates(e2e), f"{e2e['events']} events"),
        (f"instore replay publish, {w}", e2e_w["replay_rows_per_s"], e2e_w["replay_msgs_per_s"], ""),
        (f"  same, {w} ({per_msg_w:.1f} obs/msg)", *_rates(e2e_w), f"{e2e_w['events']} events"),
        (f"instore replay publish, {w2}", e2e_w2["replay_rows_per_s"], e2e_w2["replay_msgs_per_s"], ""),
        (f"  same, {w2} ({per_msg_w2:.1f} obs/msg)", *_rates(e2e_w2), f"{e2e_w2['events']} events"),
        (f"run alone draining its queue, {w2}", *_rates(drain), f"{drain['events']} events"),
        (f"event latency at 1x ({args.latency_s:.0f} s window)", math.nan, math.nan,
         f"p50 {live['latency_p50_ms']:.0f} ms, p99 {live['latency_p99_ms']:.0f} ms, n={live['events']}"),
    ]  # fmt: skip
    print(f"\n{n:,} observations, {len(payloads):,} messages ({rows_per_msg:.2f} obs/message), "
          f"fashion store, {args.shoppers} shoppers, {args.duration}")  # fmt: skip
    print(f"{'stage':<50} {'obs/s':>10} {'msgs/s':>10}  note")
    for name, obs_s, msg_s, note in rows:
        print(f"{name:<50} {_fmt(obs_s):>10} {_fmt(msg_s):>10}  {note}")
    print("\nwhere the time goes (end-to-end runs): run's busy time (first observation in to")
    print("end of stream processed); CPU seconds over the run: run's engine thread inside the")
    print(
        "positioning engine, the rest of run (bus: paho, decoding, publishing), Mosquitto, replay"
    )
    print(f"{'run':<22} {'busy s':>7} {'engine wall s':>14} {'engine CPU':>11} {'bus CPU':>8} "
          f"{'mosquitto CPU':>14} {'replay CPU':>11}")  # fmt: skip
    runs = (("max speed", e2e), (w, e2e_w), (w2, e2e_w2), ("1x (latency)", live), ("drain", drain))
    for name, r in runs:
        if r is NOT_RUN:
            continue
        print(f"{name:<22} {float(r['busy_s']):>7.2f} {r['engine_s']:>14.2f} "
              f"{r['engine_cpu_s']:>11.2f} {r['run_cpu_s'] - r['engine_cpu_s']:>8.2f} "
              f"{r['mosquitto_cpu_s']:>14.2f} {r['replay_cpu_s']:>11.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
