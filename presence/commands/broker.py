"""``instore broker``: run the embedded MQTT broker (amqtt) for machines without Mosquitto."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from presence.errors import UsageError
from presence.transport.broker import BrokerAuth, start_embedded_broker

__all__ = ["DEFAULT_PORT", "register", "run"]

DEFAULT_PORT = 1883


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "broker",
        help="run an embedded MQTT broker (amqtt) until Ctrl-C",
        description=(
            "Run the embedded MQTT 3.1.1 broker (amqtt) for development and demos, on "
            "127.0.0.1:PORT by default. It keeps persistent sessions in memory only: for "
            "production use Mosquitto with examples/mosquitto/ (passwords, ACL, persistence). "
            "Without --password-file and --acl-file it accepts every client, so it then "
            "listens on loopback only; any other --host requires both."
        ),
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default 1883)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="users and password hashes, Mosquitto's format (mosquitto_passwd; "
        "examples/mosquitto/passwords)",
    )
    p.add_argument(
        "--acl-file",
        metavar="FILE",
        help="who may read and write which topics, Mosquitto's format (examples/mosquitto/acl)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.password_file is None) != (args.acl_file is None):
        raise UsageError("--password-file and --acl-file go together: users need an access list")
    auth = None
    if args.password_file is not None:
        auth = BrokerAuth.from_files(args.password_file, args.acl_file)
    broker = start_embedded_broker(args.port, args.host, auth=auth)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    who = (
        f"{len(auth.users)} users, access list {args.acl_file}"
        if auth
        else "every local client accepted"
    )
    print(
        f"instore broker: listening on {broker.url}, {who} (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.close()
    return 0
