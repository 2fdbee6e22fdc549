"""Real advertisements from other projects' test suites decode as those projects state.

The corpus (``data/real_vectors.jsonl``, sources and licences in ``data/README.md``) holds
facts only: the payload hex, where it comes from, what the project says it is. Each vector's
``expected`` is the project's reading; where instore deliberately reads a vector otherwise, the
vector also carries ``instore`` (our reading) and ``why``, and the test checks both that we
read it our way and that the two readings really differ, so a stale disagreement fails.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from beacons.adstructures import parse_hex, split_ad_structures
from beacons.errors import AdvertisementError
from beacons.frames import FrameReading, decode_payload, read_frames

VECTORS_PATH = Path(__file__).parent / "data" / "real_vectors.jsonl"
BEACON_FORMATS = {
    "ibeacon",
    "altbeacon",
    "eddystone-uid",
    "eddystone-url",
    "eddystone-tlm",
    "eddystone-eid",
}
#: "none": the project finds no beacon; "unsupported": it reads a format instore does not.
NO_FRAME_FORMATS = {"none", "unsupported"}


def load_vectors(path: Path = VECTORS_PATH) -> list[dict[str, Any]]:
    vectors = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        record = json.loads(line)
        fmt = record["expected"]["format"]
        if fmt not in BEACON_FORMATS | NO_FRAME_FORMATS:
            raise ValueError(f"{path}:{line_no}: field expected.format: unknown value {fmt!r}")
        vectors.append(record)
    return vectors


VECTORS = load_vectors()


def frames_of(vector: dict[str, Any]) -> FrameReading | None:
    """What instore reads from a vector; None when it rejects the payload as unusable."""
    data = parse_hex(vector["hex"])
    if vector["input"] == "manufacturer_data":
        # Theengs gives manufacturer data with its company id first, little-endian.
        company_id = int.from_bytes(data[:2], "little")
        return read_frames({company_id: data[2:]}, {})
    if vector["input"] == "service_data":
        return read_frames({}, {vector["uuid16"]: data})
    try:
        decoded = decode_payload(data)
    except AdvertisementError:
        return None
    return FrameReading(decoded.frames, decoded.skipped)


def matches(reading: FrameReading | None, expected: dict[str, Any]) -> bool:
    """True if instore's reading is what ``expected`` states: its format and every field it names.

    "unsupported" also requires that nothing was reported malformed: a format we do not read
    is skipped as unsupported (or ignored), never mistaken for a broken frame.
    """
    frames = reading.frames if reading is not None else ()
    if expected["format"] == "none":
        return not frames
    if expected["format"] == "unsupported":
        return reading is not None and not frames and not any(s.malformed for s in reading.skipped)
    for frame in frames:
        decoded = frame.to_json() | {"rssi_at_1m_dbm": getattr(frame, "rssi_at_1m_dbm", None)}
        if all(same(decoded.get(key), value) for key, value in expected.items()):
            return True
    return False


def same(actual: object, stated: object) -> bool:
    if isinstance(stated, float) and isinstance(actual, int | float):
        return actual == pytest.approx(stated)
    return actual == stated


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_decodes_as_stated(vector: dict[str, Any]) -> None:
    reading = frames_of(vector)  # never raises: a bad payload is a clear rejection, not a crash
    if "instore" in vector:
        assert matches(reading, vector["instore"]), f"{vector['id']}: {reading}"
        assert not matches(reading, vector["expected"]), (
            f"{vector['id']} now agrees: drop 'instore'"
        )
    else:
        assert matches(reading, vector["expected"]), f"{vector['id']}: {reading}"


STRUCTURED = [v for v in VECTORS if "structures" in v]


@pytest.mark.parametrize("vector", STRUCTURED, ids=[v["id"] for v in STRUCTURED])
def test_ad_structures_split_as_stated(vector: dict[str, Any]) -> None:
    # Android's ScanRecordTest states how a real capture splits into AD structures.
    split = [
        (bytes([len(s.data) + 1, s.ad_type]) + s.data).hex()
        for s in split_ad_structures(parse_hex(vector["hex"]))
    ]
    assert split == [h.lower() for h in vector["structures"]]


def test_corpus_size_and_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    by_project = Counter(v["project"] for v in VECTORS)
    agree = sum(matches(frames_of(v), v["expected"]) for v in VECTORS)
    beacons = [v for v in VECTORS if v["expected"]["format"] in BEACON_FORMATS]
    beacons_agree = sum(matches(frames_of(v), v["expected"]) for v in beacons)
    with capsys.disabled():
        print(
            f"\nreal vectors: {len(VECTORS)} from {len(by_project)} projects {dict(by_project)};"
            f" decoded as stated {agree}/{len(VECTORS)};"
            f" beacons {beacons_agree}/{len(beacons)}; deliberate disagreements"
            f" {sum('instore' in v for v in VECTORS)}"
        )
    assert len(VECTORS) >= 100 and len(by_project) >= 4
    assert agree + sum("instore" in v for v in VECTORS) == len(VECTORS)
