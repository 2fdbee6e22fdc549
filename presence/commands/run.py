"""``instore run``: the live engine: observations from MQTT in, presence events and positions out."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from positioning.layout import Layout, load_layout
from positioning.registry import LOCATOR_NAMES
from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.errors import UsageError
from presence.services.live import (
    LiveService,
    StoreEngine,
    live_stats,
    live_summary,
    parse_shard,
    shard_layouts,
)
from presence.services.runstate import (
    DEFAULT_CHECKPOINT_EVERY_S,
    StoreState,
    default_state_root,
    state_dir_for,
)
from presence.transport.bus import BusClient

__all__ = ["INBOUND_PROTOCOL", "register", "REPORT_EVERY_S", "run"]

#: Seconds between progress lines on stderr.
REPORT_EVERY_S = 10.0
#: Protocol of the inbound (observations) connection when the broker URL leaves it open:
#: MQTT 3.1.1 spares paho the MQTT 5 property parsing of every received PUBLISH, and
#: `run` needs nothing of MQTT 5 there (its persistent session is clean_session=False;
#: the broker's own expiry applies, e.g. Mosquitto's persistent_client_expiration).
INBOUND_PROTOCOL = "3.1.1"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "run",
        help="live engine: observations from MQTT -> presence events and positions on MQTT",
        description=(
            "Subscribe to instore/v1/<store>/obs/+ of each store, run the positioning engine "
            "incrementally, publish CloudEvents on instore/v1/<store>/events/<type> (QoS 1) and "
            "rate-limited positions on instore/v1/<store>/positions/<device>. Malformed messages "
            "go to instore/v1/<store>/deadletter with the reason, counted, never fatal. The "
            "session is persistent: restarted, it receives the observations it missed. With "
            "--shard i/n only the stores hashed to worker i of n are run (docs/scale.md). Tracks "
            "and open visits survive a restart: each store's engine is checkpointed every "
            "--checkpoint-every seconds under --state-dir, with a journal of what came after."
        ),
    )
    p.add_argument(
        "--store",
        metavar="S",
        action="append",
        required=True,
        help="store layout TOML (repeatable)",
    )
    p.add_argument("--shard", metavar="I/N", default="0/1", help="run only this worker's stores")
    p.add_argument("--locator", choices=LOCATOR_NAMES, default="tracker", help="positioning method")
    p.add_argument("--seed", type=int, default=0, help="seed of the tracker (default 0)")
    p.add_argument(
        "--positions-every",
        metavar="S",
        type=float,
        default=1.0,
        help="at most one position per device per S seconds of wall time; 0: none (default 1)",
    )
    p.add_argument(
        "--until-end",
        action="store_true",
        help="exit once every store's replay sent its end of stream (scripts, tests)",
    )
    p.add_argument("--stats-json", metavar="FILE", help="write counters and latencies here on exit")
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        type=Path,
        help="where tracking state is kept between restarts, per broker, client id and store "
        "(default $INSTORE_STATE_DIR, else $XDG_STATE_HOME/instore/run or "
        "~/.local/state/instore/run)",
    )
    p.add_argument(
        "--checkpoint-every",
        metavar="S",
        type=float,
        default=DEFAULT_CHECKPOINT_EVERY_S,
        help="seconds of wall time between checkpoints; 0: keep no state, a restart "
        f"starts with empty tracks (default {DEFAULT_CHECKPOINT_EVERY_S:g}; no state is kept "
        "without --broker: the embedded broker's sessions end with the process)",
    )
    add_broker_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    i, n = parse_shard(args.shard)
    if args.checkpoint_every < 0:
        raise UsageError(f"--checkpoint-every {args.checkpoint_every}: must be >= 0")
    layouts = shard_layouts([load_layout(p) for p in args.store], i, n)
    if not layouts:
        print(f"instore run: shard {args.shard} has none of the given stores", file=sys.stderr)
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with broker_url(args) as url:
        cfg = bus_config(args, url)
        store = layouts[0].name if len(layouts) == 1 else None
        client_id = args.client_id or _client_id(layouts, args.shard)
        in_cfg = cfg
        if cfg.protocol == "auto":
            in_cfg = dataclasses.replace(cfg, protocol=INBOUND_PROTOCOL)
        with (
            BusClient(in_cfg, "run", client_id=client_id, persistent=True) as inbound,
            BusClient(
                cfg, "run", client_id=client_id + "-out", persistent=False, store=store
            ) as out,
        ):
            engines = [
                StoreEngine(
                    layout,
                    out,
                    locator=args.locator,
                    seed=args.seed,
                    positions_every_s=args.positions_every,
                    state=_store_state(args, layout, f"{cfg.host}_{cfg.port}", client_id),
                )
                for layout in layouts
            ]
            for engine in engines:
                for note in engine.restore():
                    print(f"instore run: {engine.layout.name}: {note}", file=sys.stderr)
            service = LiveService(engines, inbound).start()
            names = ", ".join(e.layout.name for e in engines)
            print(
                f"instore run: ready, stores {names} on {cfg.display_url}",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                _serve(service, engines, stop, args.until_end)
            service.stop()
            out.wait_published(30.0)
    for engine in engines:  # after the inbound drain: what it received is in the journal
        engine.close_state(final_checkpoint=service.error is None)
    print(live_summary(engines), file=sys.stderr)
    if args.stats_json:
        Path(args.stats_json).write_text(json.dumps(live_stats(engines), indent=2) + "\n")
    if service.error is not None:
        raise UsageError(f"live engine failed: {service.error}")
    return 0


def _store_state(
    args: argparse.Namespace, layout: Layout, broker: str, client_id: str
) -> StoreState | None:
    if args.checkpoint_every == 0 or not args.broker:
        return None  # an embedded broker's sessions end with this process: nothing to continue
    root = args.state_dir or default_state_root()
    # What the engine is: a checkpoint of another layout or configuration is refused.
    config = {
        "store": layout.name,
        "layout_sha256": hashlib.sha256(Path(layout.source).read_bytes()).hexdigest(),
        "locator": args.locator,
        "seed": args.seed,
    }
    return StoreState(
        state_dir_for(root, broker, client_id, layout.name),
        config,
        every_s=args.checkpoint_every,
        clock=time.monotonic,
        wall_clock=time.time,
    )


def _client_id(layouts: list[Layout], shard: str) -> str:
    stores = "+".join(sorted(layout.name for layout in layouts))
    return f"instore-run-{stores}-{shard.replace('/', 'of')}-{socket.gethostname()}"[:100]


def _serve(
    service: LiveService, engines: list[StoreEngine], stop: threading.Event, until_end: bool
) -> None:
    next_report = time.monotonic() + REPORT_EVERY_S
    while not stop.wait(0.1) and service.alive:
        if until_end and all(e.stats.streams_ended for e in engines):
            return
        if time.monotonic() >= next_report:
            next_report += REPORT_EVERY_S
            print(live_summary(engines), file=sys.stderr, flush=True)
