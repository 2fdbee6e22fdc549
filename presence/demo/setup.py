"""What ``instore demo`` prepares before the live parts start: the simulated window of
the day and the seeded CRM (``--source scan``'s scanners: :mod:`presence.demo.scanning`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from presence.crm.store import CrmStore
from presence.transport.bus import BusConfig
from presence.transport.credentials import RunCredentials
from presence.transport.topics import SCANNER_SERVICE_PREFIX

if TYPE_CHECKING:
    from presence.transport.broker import EmbeddedBroker

__all__ = [
    "CRM_CUSTOMERS",
    "DEFAULT_START",
    "DEMO_ROLES",
    "demo_bus_config",
    "SCAN_CRM_CUSTOMERS",
    "SCAN_DEVICE_ID",
    "seed_crm",
    "SHOPPERS_PER_HOUR",
    "simulate_window",
    "start_secured_broker",
    "SimulatedWindow",
    "WARMUP_S",
    "window_start_s",
]

#: The window of the day replayed: lunchtime, a busy hour inside opening hours (the
#: welcome policy's quiet hours are 21:00-08:00 Amsterdam time).
DEFAULT_START = "2026-11-23T12:00:00Z"
#: Simulated time before the window, so shoppers are already in the store when the
#: replay starts and dots appear within seconds (a visit lasts 5-30 min).
WARMUP_S = 15 * 60.0
#: Shoppers entering per hour: a busy lunchtime in a 600 m2 fashion store.
SHOPPERS_PER_HOUR = 100.0
#: Customers in the demo CRM (more than the day's visible shoppers, as in a real CRM).
CRM_CUSTOMERS = 400
#: With --source scan, the scanning device belongs to one of this many customers.
SCAN_CRM_CUSTOMERS = 50
#: Device id of this computer's scanner in the observations.
SCAN_DEVICE_ID = "demo-scanner"
#: The broker user (transport.access.STANDARD_ACL) of each part of the demo, by service name.
DEMO_ROLES = {
    "run": "engine",
    "run-out": "engine",
    "crm-lookup": "crm",
    "welcome": "crm",
    "dashboard": "dashboard",
    "recorder": "operator",
    "replay": "replay",
    "scan": "gateway",
}


def start_secured_broker() -> tuple[EmbeddedBroker, RunCredentials]:
    """The embedded broker with a random password per role, made for this run only, under
    the access list of examples/mosquitto/ (a local stranger can no longer post events)."""
    from presence.transport.broker import BrokerAuth, start_embedded_broker

    credentials = RunCredentials.generate()
    return start_embedded_broker(auth=BrokerAuth.for_run(credentials)), credentials


def demo_bus_config(
    url: str, credentials: RunCredentials | None, service: str, external: BusConfig | None = None
) -> BusConfig:
    """How a part of the demo connects: as its role on the demo's own broker, else as the
    external broker's options say (``--broker`` with its user and TLS files)."""
    if credentials is None:
        return external if external is not None else BusConfig(url)
    # Each scanner is its own service (scan-<device>); all of them speak as the gateway role.
    role = "scan" if service.startswith(SCANNER_SERVICE_PREFIX) else service
    return credentials.bus_config(url, DEMO_ROLES[role])


@dataclass(frozen=True, slots=True)
class SimulatedWindow:
    observations: Path  # the window only (warm-up cut off)
    start_s: float
    true_entries: dict[str, list[float]]  # device -> true store entries (ground truth)
    shopper_devices: tuple[str, ...]  # visible shoppers
    staff_devices: tuple[str, ...]


def window_start_s() -> float:
    return datetime.fromisoformat(DEFAULT_START).timestamp()


def simulate_window(store: Path, workdir: Path, window_s: float, seed: int) -> SimulatedWindow:
    """Simulate the warm-up and the window; write a log of the window only."""
    from tqdm import tqdm

    from sim.obslog import read_observation_log, write_observation_log
    from sim.params import SimConfig
    from sim.run import simulate

    start_s = window_start_s()
    duration_s = WARMUP_S + window_s
    config = SimConfig(
        shoppers=round(SHOPPERS_PER_HOUR * duration_s / 3600.0),
        duration_s=duration_s,
        start_s=start_s - WARMUP_S,
        seed=seed,
    )
    day = workdir / "day"
    desc = "simulating the store"
    with tqdm(total=duration_s, unit="s", desc=desc, file=sys.stderr, disable=None) as bar:
        simulate(store, config, day, progress=bar.update)
    batch = read_observation_log(day).batch
    path = workdir / "window.parquet"
    write_observation_log(path, batch.take(np.flatnonzero(batch.t_s >= start_s)))
    shoppers, staff, entries = _visits(day / "visits.parquet")
    return SimulatedWindow(path, start_s, entries, shoppers, staff)


def _visits(
    path: Path,
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, list[float]]]:
    """(visible shoppers' devices, staff devices, true entries) from the simulator's visits."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path, columns=["device_id", "kind", "visible", "enter_t"]).to_pylist()
    shoppers = tuple(r["device_id"] for r in rows if r["kind"] == "shopper" and r["visible"])
    staff = tuple(r["device_id"] for r in rows if r["kind"] == "staff")
    entries: dict[str, list[float]] = {}
    for r in rows:
        if r["kind"] == "shopper" and r["enter_t"] is not None and np.isfinite(r["enter_t"]):
            entries.setdefault(r["device_id"], []).append(float(r["enter_t"]))
    return shoppers, staff, entries


def seed_crm(
    crm_url: str,
    store: str,
    *,
    seed: int,
    as_of_s: float,
    customers: int = CRM_CUSTOMERS,
    shopper_devices: tuple[str, ...] = (),
    staff_devices: tuple[str, ...] = (),
    fully_consenting: tuple[str, ...] = (),
) -> None:
    """A fresh CRM whose customers own the devices; ``fully_consenting`` devices' owners
    grant every purpose (the staff demo: the presenter's own phone)."""
    from presence.crm import seed as crm_seed

    config = crm_seed.SeedConfig(
        customers=customers,
        seed=seed,
        as_of_s=as_of_s,
        store=store,
        device_ids=shopper_devices,
        staff_device_ids=staff_devices,
    )
    with CrmStore(crm_url) as crm:
        crm_seed.write(crm, crm_seed.generate(config), replace=True)
        for device in fully_consenting:
            customer = crm.customer_for_device(device)
            if customer is not None:
                for purpose in ("analytics", "personalization", "marketing"):
                    crm.record_consent(customer, purpose, True, as_of_s, source="demo")
