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

from beacons.adstructures import parse_hex
from beacons.errors import AdvertisementError
from beacons.frames import BeaconFrame, decode_payload, read_frames

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


def frames_of(vector: dict[str, Any]) -> tuple[BeaconFrame, ...] | None:
    """The frames instore reads from a vector; None when it rejects the payload as unusable."""
    data = parse_hex(vector["hex"])
    if vector["input"] == "manufacturer_data":
        # Theengs gives manufacturer data with its company id first, little-endian.
        company_id = int.from_bytes(data[:2], "little")
        return read_frames({company_id: data[2:]}, {}).frames
    try:
        return decode_payload(data).frames
    except AdvertisementError:
        return None


def matches(frames: tuple[BeaconFrame, ...] | None, expected: dict[str, Any]) -> bool:
    """True if the frames are what ``expected`` states: its format, and every field it names."""
    if expected["format"] in NO_FRAME_FORMATS:
        return not frames
    for frame in frames or ():
        decoded = frame.to_json() | {"rssi_at_1m_dbm": getattr(frame, "rssi_at_1m_dbm", None)}
        if all(
            decoded.get(key) == pytest.approx(value) if isinstance(value, float) else decoded.get(key) == value
            for key, value in expected.items()
        ):
            return True
    return False


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_decodes_as_stated(vector: dict[str, Any]) -> None:
    frames = frames_of(vector)  # never raises: a bad payload is a clear rejection, not a crash
    if "instore" in vector:
        assert matches(frames, vector["instore"]), f"{vector['id']}: {frames}"
        assert not matches(frames, vector["expected"]), f"{vector['id']} now agrees: drop 'instore'"
    else:
        assert matches(frames, vector["expected"]), f"{vector['id']}: {frames}"


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
