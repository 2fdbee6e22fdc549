"""``instore decode HEX``: what a raw advertising payload is, as JSON (a setup and support tool)."""

from __future__ import annotations

import argparse
import json
import sys

from beacons.adstructures import parse_hex
from beacons.errors import AdvertisementError
from beacons.frames import decode_payload
from beacons.identity import BeaconIdentities
from positioning.layout import load_layout

__all__ = ["EPILOG", "register", "run"]

EPILOG = """examples:
  instore decode 0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000000000C5
  instore decode "02 01 06 03 03 AA FE 0D 16 AA FE 10 EE 01 67 6F 6F 67 6C 65 00"

HEX is the AD structures as broadcast (length, type, data ...), e.g. from
`btmon`, nRF Connect's "raw data" or `hcidump --raw`. Each manufacturer and
service data entry is read on its own; one that cannot be read is listed under
"skipped" with its reason and offset. A payload that is empty, longer than any
advertisement or broken in its AD structures, or whose only beacon frames are
malformed, exits with status 2 and names the byte at fault."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "decode",
        help="decode a raw BLE advertising payload (iBeacon, Eddystone, AltBeacon) to JSON",
        description="Print, as JSON, the beacon frames and AD fields in a raw advertising payload.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("hex", nargs="+", metavar="HEX", help="payload bytes in hex (spaces allowed)")
    p.add_argument("--compact", action="store_true", help="one line of JSON instead of indented")
    p.add_argument("--store", help="layout TOML: also say which of its beacons each frame is")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    payload = parse_hex("".join(args.hex))
    decoded = decode_payload(payload)
    broken = [sk for sk in decoded.skipped if sk.malformed]
    if broken and not decoded.frames:
        first = broken[0]
        raise AdvertisementError(
            f"{first.where}: {first.reason}", data=payload, offset=first.offset
        )
    doc = {"payload": payload.hex().upper(), "length": len(payload), **decoded.to_json()}
    if args.store:
        identities = BeaconIdentities(load_layout(args.store).beacons)
        for frame, out in zip(decoded.frames, doc["frames"], strict=True):
            match = identities.match(frame)
            out["layout_beacon"] = match.beacon_id if match else None
    json.dump(doc, sys.stdout, indent=None if args.compact else 2)
    sys.stdout.write("\n")
    return 0
