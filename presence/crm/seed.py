"""Synthetic, seeded CRM data: customers, device links, consent, purchases, orders.

The same seed gives the same rows. Devices are the simulator's device ids (a share of
the visible shoppers of a simulation directory) or ids from a pattern; staff devices
of the simulation are registered as staff. Rates below are plausible figures for a
European fashion retailer's loyalty programme, stated as assumptions, not measurements.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from presence.crm.consent import DEFAULT_TEXT_VERSION
from presence.crm.erase import erase_everyone
from presence.crm.errors import CrmError
from presence.crm.names import FAMILY_NAMES, GIVEN_NAMES, SEGMENTS
from presence.crm.schema import metadata
from presence.crm.store import CrmStore

__all__ = [
    "DAY_S",
    "CONSENT_RATES",
    "APP_USER_CONSENT_BOOST",
    "WITHDRAWAL_RATE",
    "LANGUAGE_SHARES",
    "TIER_SHARES",
    "PURCHASES_PER_YEAR",
    "CHANNEL_SHARES",
    "BASKET_MEDIAN_CENTS",
    "BASKET_LOG_SIGMA",
    "DEFAULT_CATEGORIES",
    "ORDER_READY_SHARE",
    "ORDER_PLACED_SHARE",
    "PICKUP_POINTS",
    "ROTATED_SHARE",
    "DEFAULT_STORE",
    "DEFAULT_AS_OF_S",
    "SeedConfig",
    "SeedData",
    "generate",
    "write",
]


DAY_S = 86_400.0
#: Consent rates per purpose among customers (marketing is the one people refuse most).
CONSENT_RATES = {"analytics": 0.70, "personalization": 0.45, "marketing": 0.25}
#: App users (a linked device) opted in more often: they installed the app on purpose.
APP_USER_CONSENT_BOOST = 1.6
#: Share of granted consents withdrawn later.
WITHDRAWAL_RATE = 0.08
LANGUAGE_SHARES = {"nl": 0.7, "en": 0.3}
TIER_SHARES = {"basic": 0.55, "silver": 0.25, "gold": 0.15, "platinum": 0.05}
#: Mean purchases per year by tier.
PURCHASES_PER_YEAR = {"basic": 3.0, "silver": 6.0, "gold": 10.0, "platinum": 18.0}
CHANNEL_SHARES = {"web": 0.35, "app": 0.25, "store": 0.40}
#: Median basket in cents and its log spread (lognormal).
BASKET_MEDIAN_CENTS = 4_500
BASKET_LOG_SIGMA = 0.6
DEFAULT_CATEGORIES = ("womens", "mens", "shoes", "accessories", "kids", "denim")
#: Click & collect: share of customers with an order ready now, and placed (not ready).
ORDER_READY_SHARE = 0.05
ORDER_PLACED_SHARE = 0.03
PICKUP_POINTS = ("click & collect desk", "service desk", "pickup locker")
#: Share of linked customers whose app id rotated once (the old id stays, unlinked).
ROTATED_SHARE = 0.1
DEFAULT_STORE = "demo-fashion"
#: Reference "now" of seeded data when no simulation gives one: the simulator's
#: default start (``instore simulate --start``), 2026-11-23 09:00 UTC.
DEFAULT_AS_OF_S = datetime(2026, 11, 23, 9, tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class SeedConfig:
    customers: int
    seed: int = 0
    as_of_s: float = DEFAULT_AS_OF_S  # consent, purchases and orders happen before this
    store: str = DEFAULT_STORE
    device_ids: tuple[str, ...] = ()  # linked one per customer, in order, to a random subset
    staff_device_ids: tuple[str, ...] = ()
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    #: (device, time) of purchases in the store during simulated visits, after as_of_s
    #: (the outcome analytics compares between welcomed and control customers).
    visit_purchases: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class SeedData:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def count(self, table: str) -> int:
        return len(self.rows.get(table, []))


def _pick(rng: np.random.Generator, shares: dict[str, float]) -> str:
    keys = list(shares)
    return str(keys[int(rng.choice(len(keys), p=np.array(list(shares.values()))))])


def generate(config: SeedConfig) -> SeedData:
    """All rows, deterministic for ``config``."""
    if config.customers < 0:
        raise ValueError(f"customers must be >= 0, got {config.customers}")
    rng = np.random.default_rng(config.seed)
    data = SeedData({name: [] for name in _TABLES})
    linked = _device_owners(rng, config)
    for i in range(config.customers):
        cid = f"C{i + 1:06d}"
        _customer(rng, config, data, cid, linked.get(i, ()))
    _visit_purchases(rng, config, data, linked)
    data.rows["staff_devices"] = [
        {"device_id": d, "label": f"staff {n + 1}"} for n, d in enumerate(config.staff_device_ids)
    ]
    return data


_TABLES = (
    "customers",
    "customer_segments",
    "devices",
    "staff_devices",
    "consent_ledger",
    "purchases",
    "orders",
)


def _device_owners(rng: np.random.Generator, config: SeedConfig) -> dict[int, tuple[str, ...]]:
    """Customer index -> device ids; each device to a distinct random customer."""
    n = min(len(config.device_ids), config.customers)
    owners = rng.choice(config.customers, size=n, replace=False) if n else np.array([], int)
    return {int(o): (config.device_ids[k],) for k, o in enumerate(owners)}


def _customer(
    rng: np.random.Generator, config: SeedConfig, data: SeedData, cid: str, devices: Sequence[str]
) -> None:
    lang = _pick(rng, LANGUAGE_SHARES)
    given = str(rng.choice(GIVEN_NAMES[lang]))
    family = str(rng.choice(FAMILY_NAMES[lang]))
    tier = _pick(rng, TIER_SHARES)
    created = config.as_of_s - float(rng.uniform(60, 6 * 365)) * DAY_S
    birthday = date(1950, 1, 1) + timedelta(days=int(rng.integers(0, 57 * 365)))
    handle = f"{given}.{family}".lower().replace(" ", "").replace("'", "")
    data.rows["customers"].append(
        {
            "customer_id": cid,
            "given_name": given,
            "family_name": family,
            "email": f"{handle}{cid[-3:]}@example.{'nl' if lang == 'nl' else 'com'}",
            "phone": _phone(rng, lang),
            "language": lang,
            "loyalty_tier": tier,
            "birthday": birthday,
            "created_s": created,
        }
    )
    for seg in rng.choice(len(SEGMENTS), size=int(rng.integers(0, 4)), replace=False):
        data.rows["customer_segments"].append({"customer_id": cid, "segment": SEGMENTS[int(seg)]})
    _devices(rng, config, data, cid, devices, created)
    _consents(rng, config, data, cid, created, app_user=bool(devices))
    _purchases(rng, config, data, cid, tier)
    _orders(rng, config, data, cid)


def _visit_purchases(
    rng: np.random.Generator,
    config: SeedConfig,
    data: SeedData,
    linked: dict[int, tuple[str, ...]],
) -> None:
    owner = {d: f"C{i + 1:06d}" for i, ds in linked.items() for d in ds}
    for k, (device, t) in enumerate(config.visit_purchases):
        if device not in owner:
            continue
        amount = BASKET_MEDIAN_CENTS * float(np.exp(rng.normal(0.0, BASKET_LOG_SIGMA)))
        data.rows["purchases"].append(
            {
                "purchase_id": f"V{k + 1:06d}",
                "customer_id": owner[device],
                "channel": "store",
                "store": config.store,
                "category": str(rng.choice(config.categories)),
                "amount_cents": max(100, int(round(amount))),
                "at_s": float(t),
            }
        )


def _phone(rng: np.random.Generator, lang: str) -> str:
    if lang == "nl":
        return f"+31 6 {int(rng.integers(10_000_000, 99_999_999))}"
    # Ofcom reserves 07700 900000-900999 for fiction: never a real number.
    return f"+44 7700 900{int(rng.integers(0, 1000)):03d}"


def _devices(
    rng: np.random.Generator,
    config: SeedConfig,
    data: SeedData,
    cid: str,
    devices: Sequence[str],
    created: float,
) -> None:
    for device_id in devices:
        linked = float(rng.uniform(created, config.as_of_s - DAY_S))
        if rng.random() < ROTATED_SHARE:
            data.rows["devices"].append(
                {
                    "device_id": f"{device_id}~old",
                    "customer_id": cid,
                    "linked_s": created,
                    "unlinked_s": linked,
                    "source": "app",
                }
            )
        row = {"device_id": device_id, "customer_id": cid, "linked_s": linked}
        data.rows["devices"].append({**row, "unlinked_s": None, "source": "app"})


def _consents(
    rng: np.random.Generator,
    config: SeedConfig,
    data: SeedData,
    cid: str,
    created: float,
    *,
    app_user: bool,
) -> None:
    for purpose, rate in CONSENT_RATES.items():
        p = min(1.0, rate * (APP_USER_CONSENT_BOOST if app_user else 1.0))
        granted = bool(rng.random() < p)
        at = float(rng.uniform(created, config.as_of_s - DAY_S))
        source = str(rng.choice(("app", "web", "store")))
        entry = {"customer_id": cid, "purpose": purpose, "source": source}
        data.rows["consent_ledger"].append(
            {**entry, "granted": granted, "at_s": at, "text_version": _text_version(at)}
        )
        if granted and rng.random() < WITHDRAWAL_RATE:
            later = float(rng.uniform(at, config.as_of_s - DAY_S))
            data.rows["consent_ledger"].append(
                {**entry, "granted": False, "at_s": later, "text_version": _text_version(later)}
            )


def _text_version(at_s: float) -> str:
    """The consent text shown then: one version per year (the newest is DEFAULT_TEXT_VERSION)."""
    year = datetime.fromtimestamp(at_s, tz=UTC).year
    return min(f"{year}-01", DEFAULT_TEXT_VERSION)


def _purchases(
    rng: np.random.Generator, config: SeedConfig, data: SeedData, cid: str, tier: str
) -> None:
    n = int(rng.poisson(PURCHASES_PER_YEAR[tier]))
    for k in range(n):
        channel = _pick(rng, CHANNEL_SHARES)
        amount = BASKET_MEDIAN_CENTS * float(np.exp(rng.normal(0.0, BASKET_LOG_SIGMA)))
        data.rows["purchases"].append(
            {
                "purchase_id": f"P{cid[1:]}-{k + 1:03d}",
                "customer_id": cid,
                "channel": channel,
                "store": config.store if channel == "store" else None,
                "category": str(rng.choice(config.categories)),
                "amount_cents": max(100, int(round(amount))),
                "at_s": config.as_of_s - float(rng.uniform(0.1, 365)) * DAY_S,
            }
        )


def _orders(rng: np.random.Generator, config: SeedConfig, data: SeedData, cid: str) -> None:
    u = rng.random()
    if u >= ORDER_READY_SHARE + ORDER_PLACED_SHARE:
        return
    placed = config.as_of_s - float(rng.uniform(1, 5)) * DAY_S
    ready = u < ORDER_READY_SHARE
    data.rows["orders"].append(
        {
            "order_id": f"O{cid[1:]}-1",
            "customer_id": cid,
            "status": "ready" if ready else "placed",
            "pickup_store": config.store,
            "pickup_point": str(rng.choice(PICKUP_POINTS)),
            "placed_s": placed,
            "ready_s": float(rng.uniform(placed, config.as_of_s - 3600.0)) if ready else None,
            "item_count": int(rng.integers(1, 4)),
        }
    )


def write(crm: CrmStore, data: SeedData, *, replace: bool = False) -> dict[str, int]:
    """Insert ``data``; with ``replace`` empty the CRM first (every table but the version).

    Refuses to mix a seed into a CRM that already has customers (ids would clash).
    """
    _check_not_from_the_future(data)
    written: dict[str, int] = {}
    with crm.begin() as conn:
        existing = conn.execute(
            sa.select(sa.func.count()).select_from(metadata.tables["customers"])
        )
        if existing.scalar_one() and not replace:
            raise CrmError("the CRM already has customers; pass --replace to start over")
        if replace:
            erase_everyone(conn)
        for name in _TABLES:
            rows = data.rows.get(name, [])
            for start in range(0, len(rows), _CHUNK_ROWS):
                conn.execute(metadata.tables[name].insert(), rows[start : start + _CHUNK_ROWS])
            written[name] = len(rows)
    return written


def _check_not_from_the_future(data: SeedData) -> None:
    """The ledger takes no entry applying from after the database's clock (migration 5):
    say so in words before its trigger refuses the batch."""
    times = [row["at_s"] for row in data.rows.get("consent_ledger", [])]
    if times and max(times) > time.time():
        reaches = datetime.fromtimestamp(max(times), UTC).isoformat(timespec="seconds")
        raise CrmError(
            f"seeded consent history reaches {reaches}, after now: the consent ledger takes "
            "no entry from the future; seed for an earlier day (--as-of, or simulate --start)"
        )


#: Rows per INSERT batch (keeps PostgreSQL parameter lists well under its limits).
_CHUNK_ROWS = 2_000
