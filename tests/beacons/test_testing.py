"""The shipped FakeSource and the fake radio script reader."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from beacons.errors import BeaconsError
from beacons.observation import Observation, ObservationBatch
from beacons.source import ObservationSource
from beacons.testing import AdapterOutage, FakeAdvertisement, FakeSource, load_fake_advertisements


def test_fake_source_yields_rows_in_order() -> None:
    batch = ObservationBatch.from_arrays([1.0, 2.0], ["d", "d"], ["b1", "b2"], [-60.0, -70.0])
    source = FakeSource.from_batch(batch)
    assert isinstance(source, ObservationSource)

    async def collect() -> list[Observation]:
        return [o async for o in source]

    assert asyncio.run(collect()) == list(batch)
    assert source.yielded == 2


def test_fake_advertisement_script(tmp_path: Path) -> None:
    p = tmp_path / "radio.jsonl"
    p.write_text(
        '# comment\n{"dt_s": 0.5, "payload": "020106", "rssi": -60}\n\n{"adapter_outage": 2}\n'
    )
    assert load_fake_advertisements(p) == [
        FakeAdvertisement(0.5, bytes([2, 1, 6]), -60),
        AdapterOutage(2),
    ]
    p.write_text('{"dt_s": 0.5, "payload": "zz", "rssi": -60}\n')
    with pytest.raises(BeaconsError, match="line 1"):
        load_fake_advertisements(p)
