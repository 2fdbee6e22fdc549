"""Random, truncated and bit-flipped payloads: the parsers return or raise our error, nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from beacons.adstructures import parse_hex
from beacons.errors import AdvertisementError
from beacons.frames import decode_payload

VALID = [
    "0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000000000C5",
    "0201060303AAFE1716AAFE00E78B0CA750095477CB3E770000000000010000",
    "0201060303AAFE1116AAFE2000 0BB8 1980 000003E8 00000E10".replace(" ", ""),
    "0201060303AAFE0D16AAFE10EE01676F6F676C6500",
    "1BFF1801BEAC2F234454CF6D4A0FADF2F4911BA9FFA600010002C500",
]


def decode_or_our_error(payload: bytes) -> str:
    """ "error" if the payload is unusable, "skipped" if a frame in it is malformed, else "ok"."""
    try:
        decoded = decode_payload(payload)
    except AdvertisementError:
        return "error"
    return "skipped" if any(s.malformed for s in decoded.skipped) else "ok"


def test_random_payloads() -> None:
    rng = np.random.default_rng(20261123)
    outcomes = {"ok": 0, "error": 0, "skipped": 0}
    for _ in range(5000):
        n = int(rng.integers(0, 64))
        outcomes[decode_or_our_error(rng.integers(0, 256, n, dtype=np.uint8).tobytes())] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


@pytest.mark.parametrize("hex_payload", VALID)
def test_every_truncation_of_a_valid_payload(hex_payload: str) -> None:
    payload = parse_hex(hex_payload)
    assert decode_or_our_error(payload) == "ok"
    for cut in range(len(payload)):
        decode_or_our_error(payload[:cut])


@pytest.mark.parametrize("hex_payload", VALID)
def test_bit_flips_and_byte_substitutions(hex_payload: str) -> None:
    payload = bytearray(parse_hex(hex_payload))
    rng = np.random.default_rng(7)
    for _ in range(1000):
        mutated = bytearray(payload)
        for i in rng.integers(0, len(mutated), int(rng.integers(1, 4))):
            mutated[i] = int(rng.integers(0, 256))
        decode_or_our_error(bytes(mutated))
    for i in range(len(payload)):
        for bit in range(8):
            flipped = bytearray(payload)
            flipped[i] ^= 1 << bit
            decode_or_our_error(bytes(flipped))


def test_beacon_headers_with_random_tails() -> None:
    # Headers that claim a format followed by random bytes: most are malformed frames,
    # reported as skipped entries of a payload that is itself well formed.
    rng = np.random.default_rng(11)
    heads = ["FF4C0002", "FF1801BEAC", "16AAFE00", "16AAFE10", "16AAFE20", "16AAFE30", "16AAFE"]
    errors = 0
    for _ in range(3000):
        head = parse_hex(heads[int(rng.integers(0, len(heads)))])
        tail = rng.integers(0, 256, int(rng.integers(0, 26)), dtype=np.uint8).tobytes()
        body = head + tail
        errors += decode_or_our_error(bytes([len(body)]) + body) == "skipped"
    assert errors > 1000
