"""Broker options shared by the bus commands, and the embedded broker when none is named."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from presence.transport.bus import BusConfig

#: Environment variables for credentials, so passwords stay out of ``ps`` output.
ENV_USERNAME = "INSTORE_MQTT_USERNAME"
ENV_PASSWORD = "INSTORE_MQTT_PASSWORD"


def add_broker_args(p: argparse.ArgumentParser, *, client_id: bool = True) -> None:
    """The broker options; ``client_id=False`` for a command that runs several clients."""
    g = p.add_argument_group("broker")
    g.add_argument(
        "--broker",
        metavar="URL",
        help="mqtt://host:port or mqtts://host:port (TLS); without it an embedded broker "
        "runs in this process (for trying things out)",
    )
    g.add_argument("--username", help=f"MQTT user (or ${ENV_USERNAME})")
    g.add_argument("--password", help=f"MQTT password (better: ${ENV_PASSWORD})")
    g.add_argument("--ca-file", metavar="PEM", help="CA certificate(s) for mqtts://")
    g.add_argument("--cert-file", metavar="PEM", help="client certificate for mqtts://")
    g.add_argument("--key-file", metavar="PEM", help="client key for mqtts://")
    if client_id:
        g.add_argument("--client-id", help="MQTT client id (default: stable per service and store)")


def bus_config(args: argparse.Namespace, url: str) -> BusConfig:
    return BusConfig(
        url,
        username=args.username or os.environ.get(ENV_USERNAME),
        password=args.password or os.environ.get(ENV_PASSWORD),
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
    )


@contextlib.contextmanager
def broker_url(args: argparse.Namespace) -> Iterator[str]:
    """``--broker`` if given, else an embedded broker for the command's lifetime."""
    if args.broker:
        yield args.broker
        return
    from presence.transport.broker import start_embedded_broker

    broker = start_embedded_broker()
    print(f"embedded MQTT broker on {broker.url}", file=sys.stderr)
    try:
        yield broker.url
    finally:
        broker.close()
