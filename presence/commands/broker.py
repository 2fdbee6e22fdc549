"""``instore broker``: run the embedded MQTT broker (amqtt) for machines without Mosquitto."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from presence.transport.broker import start_embedded_broker

__all__ = ["DEFAULT_PORT", "register", "run"]

DEFAULT_PORT = 1883


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "broker",
        help="run an embedded MQTT broker (amqtt) until Ctrl-C",
        description=(
            "Run the embedded MQTT 3.1.1 broker (amqtt) for development and demos, on "
            "127.0.0.1:PORT by default. It keeps persistent sessions in memory only: for "
            "production use Mosquitto with examples/mosquitto/ (passwords, ACL, persistence)."
        ),
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default 1883)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    broker = start_embedded_broker(args.port, args.host)
    print(
        f"instore broker: listening on {broker.url} (Ctrl-C to stop)", file=sys.stderr, flush=True
    )
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.close()
    return 0
