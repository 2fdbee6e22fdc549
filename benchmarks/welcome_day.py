"""A simulated day through the live pipeline with a seeded CRM: welcomes and staff alerts.

    python benchmarks/welcome_day.py --shoppers 300 --duration 3h --speed 30 --seed 1 \
        [--broker mqtt://127.0.0.1:1883] [--crm postgresql+psycopg://...] [-o summary.json]

Steps, each the real command in its own process: ``instore simulate`` -> ``instore crm
seed --devices-from`` -> ``instore run``, ``instore crm-lookup``, ``instore welcome`` ->
``instore replay``. A recorder on the bus (presence.demo.summary) keeps what went over
it; the figures come from the bus and the CRM database, not from service counters.
Welcome latency: from the simulator's true entry time to the message on the bus
(detection delay on the observation clock + pipeline delay in wall seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq

from positioning.layout import load_layout
from presence.crm.store import CrmStore
from presence.demo.summary import BusRecorder, summarize
from presence.testing import wait_until
from presence.transport.bus import BusClient, BusConfig
from presence.transport.topics import Topics

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 120.0
#: After the engine finished, services get this long to process what is in flight.
DRAIN_S = 10.0
#: The engine gets this long after the replay ended to reach the end of stream.
RUN_FINISH_S = 180.0


def instore(*args: str) -> list[str]:
    return [sys.executable, "-m", "presence.cli", *args]


def start(name: str, cmd: list[str], logs: Path) -> subprocess.Popen[bytes]:
    log = logs / f"{name}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stderr=err, stdout=subprocess.DEVNULL)
    ok = wait_until(
        lambda: b"ready" in log.read_bytes() or proc.poll() is not None, READY_TIMEOUT_S
    )
    if not ok or proc.poll() is not None:
        raise SystemExit(f"{name} did not start:\n{log.read_text()}")
    return proc


def true_entries(visits: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for row in pq.read_table(visits, columns=["device_id", "kind", "enter_t"]).to_pylist():
        if (
            row["kind"] == "shopper"
            and row["enter_t"] is not None
            and row["enter_t"] == row["enter_t"]
        ):
            out.setdefault(row["device_id"], []).append(float(row["enter_t"]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--store", default=str(REPO / "examples/stores/fashion.toml"))
    ap.add_argument("--shoppers", type=int, default=300)
    ap.add_argument("--duration", default="3h")
    ap.add_argument("--speed", default="30")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--broker", help="default: an embedded broker in this process")
    ap.add_argument("--crm", help="default: a SQLite file in the work directory")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("-o", "--output", type=Path, help="write the summary JSON here")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="welcome-day-"))
    work.mkdir(parents=True, exist_ok=True)
    crm_url = args.crm or f"sqlite:///{work / 'crm.sqlite'}"
    store = load_layout(args.store).name
    sim = work / "sim"
    t0 = time.monotonic()
    if not (sim / "meta.json").exists():
        subprocess.run(
            instore(
                "simulate",
                "--store",
                args.store,
                "--shoppers",
                str(args.shoppers),
                "--duration",
                args.duration,
                "--seed",
                str(args.seed),
                "-o",
                str(sim),
                "--quiet",
            ),
            check=True,
        )
    print(f"simulated in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    subprocess.run(
        instore(
            "crm",
            "seed",
            "--customers",
            str(args.customers),
            "--seed",
            str(args.seed),
            "--devices-from",
            str(sim),
            "--crm",
            crm_url,
            "--replace",
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    broker = None
    url = args.broker
    if url is None:
        from presence.transport.broker import start_embedded_broker

        broker = start_embedded_broker()
        url = broker.url
    run_id = uuid.uuid4().hex[:8]
    recorder = BusRecorder(Topics(store))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        with BusClient(BusConfig(url), "recorder", persistent=False) as bus:
            recorder.attach(bus)
            common = ["--store", args.store, "--broker", url]
            procs["run"] = start(
                "run",
                instore(
                    "run",
                    *common,
                    "--until-end",
                    "--positions-every",
                    "0",
                    "--stats-json",
                    str(work / "run-stats.json"),
                    "--client-id",
                    f"run-{run_id}",
                ),
                work,
            )
            procs["crm-lookup"] = start(
                "crm-lookup",
                instore("crm-lookup", *common, "--crm", crm_url, "--client-id", f"lookup-{run_id}"),
                work,
            )
            procs["welcome"] = start(
                "welcome",
                instore("welcome", *common, "--crm", crm_url, "--client-id", f"welcome-{run_id}"),
                work,
            )
            t1 = time.monotonic()
            subprocess.run(
                instore(
                    "replay",
                    *common,
                    "--observations",
                    str(sim),
                    "--speed",
                    args.speed,
                    "--quiet",
                    "--client-id",
                    f"replay-{run_id}",
                ),
                check=True,
            )
            try:
                procs["run"].wait(RUN_FINISH_S)
                finished = True
            except subprocess.TimeoutExpired:  # its end of stream never arrived (lost on the bus)
                procs["run"].send_signal(signal.SIGTERM)
                procs["run"].wait(60)
                finished = False
            time.sleep(DRAIN_S)
            replay_s = time.monotonic() - t1
            for name in ("crm-lookup", "welcome"):
                procs[name].send_signal(signal.SIGTERM)
                procs[name].wait(60)
            with CrmStore(crm_url) as crm:
                summary = summarize(
                    recorder, crm, true_entries=true_entries(sim / "visits.parquet")
                )
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        if broker is not None:
            broker.close()
    summary["replay_wall_s"] = round(replay_s, 1)
    summary["engine_reached_end_of_stream"] = finished
    stats = work / "run-stats.json"
    if stats.exists():
        summary["engine_stats"] = json.loads(stats.read_text())
    summary["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    summary["workdir"] = str(work)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
