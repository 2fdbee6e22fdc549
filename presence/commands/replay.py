"""``instore replay``: publish an observation log, or a recorded MQTT message log, on MQTT,
paced to N x real time."""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
import time
from pathlib import Path

from tqdm import tqdm

from positioning.layout import load_layout
from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.errors import UsageError
from presence.services.messagelog import replay_messages
from presence.services.replay import DEFAULT_SCAN_WINDOW_S, replay_log
from presence.transport.bus import BusClient
from presence.transport.payloads import END_OF_STREAM, MAX_SCAN_SPAN_S, encode_control
from presence.transport.topics import Topics
from sim.obslog import resolve_log_path

__all__ = ["EPILOG", "parse_speed", "register", "RELAY_GRACE_S", "run"]

#: With --messages --store: wall seconds between the log's last message and the
#: end-of-stream message, so that relays in between (ingest-espresense publishes a window
#: every 0.5 s) have sent their last observations before `instore run` closes the visits.
RELAY_GRACE_S = 3.0

EPILOG = """examples:
  instore replay --store examples/stores/fashion.toml --observations day --speed 30
  instore replay --messages examples/recordings/espresense-stationary/messages.jsonl \\
      --store examples/recordings/espresense-stationary/store.toml      # with ingest-espresense

--messages FILE publishes a recorded MQTT message log (one JSON object a line: topic,
payload, t or tst, optional qos and retain, as mosquitto_sub -F %j prints them) on the
recorded topics with the recorded pacing (times --speed). Retain flags are dropped unless
--keep-retain. With --store, an end-of-stream message for that store follows the log."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "replay",
        help="publish a recorded or simulated observation log, or a recorded MQTT message log, "
        "on MQTT, paced to N x real time",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Publish an observation log (CSV or Parquet, or a simulation directory) as scan "
            "messages on instore/v1/<store>/obs/<device>, QoS 1, paced on the observations' "
            "clock at --speed times real time (max: as fast as the broker acknowledges), then "
            "an end-of-stream message so `instore run` closes open visits. Rows a batch run "
            "would reject are counted and reported, not sent. Or, with --messages, a recorded "
            "MQTT message log on its own topics, with its recorded pacing (see below).",
            width=88,
        ),
    )
    p.add_argument(
        "--store",
        metavar="S",
        help="store layout TOML (required with --observations; with --messages: the store "
        "whose end of stream follows the log)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--observations", metavar="FILE", help="observation log or simulation dir")
    source.add_argument(
        "--messages",
        metavar="FILE",
        help="recorded MQTT message log (JSON lines: topic, payload, t or tst), e.g. an "
        "ESPresense capture; published as recorded, on its own topics",
    )
    p.add_argument(
        "--keep-retain",
        action="store_true",
        help="with --messages: publish retained messages retained, as recorded",
    )
    p.add_argument(
        "--speed", default="1", help="N x real time (e.g. 30), or max (default 1: real time)"
    )
    p.add_argument(
        "--scan-window",
        metavar="S",
        type=float,
        default=DEFAULT_SCAN_WINDOW_S,
        help="group each device's readings within S seconds into one message, as phones and "
        "gateways reporting per scan cycle do (keep S below the engine's 1 s reorder tolerance; "
        "event ids stay those of a batch run, detected_at up to S later). Default "
        f"{DEFAULT_SCAN_WINDOW_S}; 0: one message per row group, the log's exact order "
        "(exactly the events of `instore locate`, ~8x the messages)",
    )
    p.add_argument("--no-end", action="store_true", help="do not send the end-of-stream message")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_broker_args(p)
    p.set_defaults(func=run)


def parse_speed(text: str) -> float:
    if text.strip().lower() == "max":
        return math.inf
    try:
        speed = float(text)
    except ValueError:
        raise UsageError(f"--speed {text!r}: expected a number (e.g. 30) or max") from None
    if not speed > 0 or not math.isfinite(speed):
        raise UsageError(f"--speed {text!r}: must be > 0")
    return speed


def _total_rows(path: Path) -> int | None:
    if path.suffix.lower() != ".parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def run(args: argparse.Namespace) -> int:
    speed = parse_speed(args.speed)
    if args.messages is not None:
        return _run_messages(args, speed)
    if args.store is None:
        raise UsageError("--observations needs --store (the layout its beacon ids belong to)")
    if not 0 <= args.scan_window <= MAX_SCAN_SPAN_S:
        raise UsageError(f"--scan-window {args.scan_window}: must be in 0..{MAX_SCAN_SPAN_S} s")
    layout = load_layout(args.store)
    path = resolve_log_path(args.observations)
    with broker_url(args) as url:
        cfg = bus_config(args, url)
        with BusClient(cfg, "replay", client_id=args.client_id, persistent=False) as client:
            bar = tqdm(
                total=_total_rows(path),
                unit="obs",
                unit_scale=True,
                disable=args.quiet,
                file=sys.stderr,
                desc=f"replay {layout.name} x{args.speed}",
            )
            with bar:
                report = replay_log(
                    client,
                    layout,
                    str(path),
                    speed=speed,
                    window_s=args.scan_window,
                    on_rows=bar.update,
                    end_of_stream=not args.no_end,
                )
    rejected = ", ".join(f"{n} {r}" for r, n in sorted(report.rejected.counts.items())) or "none"
    print(
        f"instore replay: {report.rows} observations in {report.messages} messages to "
        f"{cfg.display_url} in {report.elapsed_s:.1f} s ({report.rows_per_s:,.0f} obs/s); "
        f"rejected rows: {rejected}"
    )
    return 0


def _run_messages(args: argparse.Namespace, speed: float) -> int:
    path = Path(args.messages)
    if not path.is_file():
        raise UsageError(f"--messages {args.messages}: no such file")
    topics = Topics(load_layout(args.store).name) if args.store else None
    with broker_url(args) as url:
        cfg = bus_config(args, url)
        with BusClient(cfg, "replay", client_id=args.client_id, persistent=False) as client:
            bar = tqdm(
                unit="msg",
                disable=args.quiet,
                file=sys.stderr,
                desc=f"replay {path.name} x{args.speed}",
            )
            with bar:
                report = replay_messages(
                    client,
                    path,
                    speed=speed,
                    keep_retain=args.keep_retain,
                    on_message=lambda _m: bar.update(),
                )
            if topics is not None and not args.no_end and report.messages:
                time.sleep(RELAY_GRACE_S)
                end = encode_control(END_OF_STREAM, t_s=time.time(), source="replay")
                client.publish(topics.control, end)
                client.wait_published(30.0)
    if report.messages == 0:
        raise UsageError(
            f"--messages {args.messages}: no usable message; lines skipped: "
            f"{report.rejected.describe()}"
        )
    span = report.last_t_s - report.first_t_s
    print(
        f"instore replay: {report.messages} messages on {report.topics} topics "
        f"({span:.1f} s recorded) to {cfg.display_url} in {report.elapsed_s:.1f} s; "
        f"lines skipped: {report.rejected.describe()}"
    )
    return 0
