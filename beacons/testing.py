"""Test helpers shipped in the package: fakes at the radio boundary.

``FakeSource`` stands in for a scanner wherever code consumes an
:class:`~beacons.source.ObservationSource`; it needs no radio and no clock.
``FakeAdvertisement``/``AdapterOutage`` script what a fake Bluetooth adapter hears;
``beacons.scanner.fake_backend`` plays such a script through bleak's own
``BleakScanner``, so the real scanner code runs without hardware.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from beacons.adstructures import parse_hex
from beacons.errors import BeaconsError
from beacons.observation import Observation, ObservationBatch


class FakeSource:
    """Yields ``observations`` in order.

    With ``pace`` > 0 it sleeps ``(t_next - t_prev) / pace`` between rows, so a
    recording plays at ``pace`` times real time; with 0 it yields as fast as asked.
    ``yielded`` counts the rows handed out.
    """

    def __init__(self, observations: Iterable[Observation], *, pace: float = 0.0) -> None:
        if pace < 0:
            raise ValueError(f"pace must be >= 0, got {pace}")
        self._rows = list(observations)
        self._pace = pace
        self.yielded = 0

    @classmethod
    def from_batch(cls, batch: ObservationBatch, *, pace: float = 0.0) -> FakeSource:
        return cls(iter(batch), pace=pace)

    async def __aiter__(self) -> AsyncIterator[Observation]:
        previous_t: float | None = None
        for obs in self._rows:
            if self._pace > 0 and previous_t is not None and obs.t_s > previous_t:
                await asyncio.sleep((obs.t_s - previous_t) / self._pace)
            else:
                await asyncio.sleep(0)
            previous_t = obs.t_s
            self.yielded += 1
            yield obs


@dataclass(frozen=True, slots=True)
class FakeAdvertisement:
    """One advertisement a fake radio hears ``delay_s`` after the previous one.

    ``payload`` is the raw AD structures as broadcast, ``rssi_dbm`` the received power.
    ``address`` is what an OS would report; instore never reads it.
    """

    delay_s: float
    payload: bytes
    rssi_dbm: int
    address: str = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class AdapterOutage:
    """The adapter disappears silently here; the next ``failed_starts`` starts fail."""

    failed_starts: int = 1


FakeRadioEvent = FakeAdvertisement | AdapterOutage


def load_fake_advertisements(path: str | Path) -> list[FakeRadioEvent]:
    """Read a JSON-lines script for the fake radio (testing and demos without hardware).

    Each line is ``{"dt_s": 0.1, "payload": "0201061AFF4C00...", "rssi": -63}`` or
    ``{"adapter_outage": 2}``. Blank lines and lines starting with ``#`` are skipped.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BeaconsError(
            f"{p}: cannot read the fake advertisement script: {e.strerror or e}"
        ) from e
    events: list[FakeRadioEvent] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
            if "adapter_outage" in row:
                events.append(AdapterOutage(int(row["adapter_outage"])))
            else:
                events.append(
                    FakeAdvertisement(
                        float(row.get("dt_s", 0.0)),
                        parse_hex(str(row["payload"])),
                        int(row["rssi"]),
                    )
                )
        except (ValueError, KeyError, TypeError, AttributeError, BeaconsError) as e:
            raise BeaconsError(
                f"{p}, line {n}: not a fake advertisement ({e}): {line[:80]!r}"
            ) from e
    return events
