"""A synthetic chain archive with known answers: many stores, many weeks, in the layout
``instore archive`` writes (``positions/`` and ``events/``, ``store=<name>/date=<YYYY-MM-DD>``).

Every store-day draws its visits from a weekday/weekend factor and an hour-of-day profile;
each visit walks 1 Hz positions through a few zones (zone and dwell events), and passers-by
are heard in the street without entering. Vectorised with numpy and written with pyarrow, so
200 million positions take minutes, not hours. :func:`write_chain` returns the simulation's
own truth (computed from the drawn visits, not from the files) for tests to compare with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from positioning.events import (
    DWELL_END,
    DWELL_START,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_ENTER,
    ZONE_EXIT,
)
from positioning.layout import Layout

__all__ = ["ChainParams", "ChainTruth", "hour_profile", "write_chain", "write_crm"]

#: Share of a day's visits starting in each hour (the store's local time), 0-23: a shop open 09-21 with a
#: lunch peak and a bigger after-work peak (the usual shape of retail footfall counts).
HOUR_WEIGHTS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 7, 10, 10, 7, 6, 7, 10, 12, 10, 7, 6, 0, 0], dtype=float
)
#: The positions' sample rate while a device is heard (ARCHITECTURE 3.4: at least 1 Hz).
SAMPLE_HZ = 1.0
#: A zone stop at least this long is a dwell (the presence engine's default is of this order).
DWELL_MIN_S = 60
#: Samples of a passer-by heard in the street.
PASSERBY_SAMPLES = 20


def hour_profile() -> npt.NDArray[np.float64]:
    return HOUR_WEIGHTS / HOUR_WEIGHTS.sum()


@dataclass(frozen=True, slots=True)
class ChainParams:
    """What the synthetic chain looks like; every count is a mean of a Poisson draw."""

    stores: int = 10
    first_day: dt.date = dt.date(2026, 11, 2)  # a Monday
    days: int = 28
    visits_per_day: float = 300.0  # a weekday at an average store
    weekend_factor: float = 1.6  # Saturday and Sunday against a weekday
    #: store i's footfall is visits_per_day * (1 - spread/2 + spread * i / (stores - 1))
    store_spread: float = 1.0
    median_visit_s: float = 900.0  # lognormal visit length
    visit_sigma: float = 0.6
    max_visit_s: int = 7200  # visits end before midnight: opening hours end at 21:00
    passersby_per_visit: float = 2.0  # devices heard in the street per visit
    regular_share: float = 0.1  # visits by a store's regulars (the same device id again)
    regulars: int = 200  # size of each store's pool of regulars
    seed: int = 1
    store_names: tuple[str, ...] = field(default=())
    #: the welcome service (0: none): share of one-off visits made by CRM customers, each
    #: decided 10 s into the visit; a control group is decided but never messaged; each
    #: visit buys with purchase_rate, plus purchase_uplift when messaged. Drawn from a
    #: generator of its own, so the positions and events do not change with these.
    customer_share: float = 0.0
    control_share: float = 0.2
    purchase_rate: float = 0.2
    purchase_uplift: float = 0.1
    #: store i's IANA time zone (default UTC for all): the hour profile and the days are
    #: the store's local ones; the files are still partitioned by UTC date, as the archive
    #: is, so a local day far from UTC spreads over two date partitions
    timezones: tuple[str, ...] = field(default=())

    def timezone(self, i: int) -> str:
        return self.timezones[i] if i < len(self.timezones) else "UTC"

    def names(self) -> tuple[str, ...]:
        return self.store_names or tuple(f"store-{i + 1:02d}" for i in range(self.stores))

    def store_scale(self, i: int) -> float:
        if self.stores <= 1:
            return 1.0
        return 1.0 - self.store_spread / 2 + self.store_spread * i / (self.stores - 1)


@dataclass(frozen=True, slots=True)
class ChainTruth:
    """The simulation's own figures, per store and day (``day`` a date)."""

    #: store, day, visits, visitors (distinct devices with a visit), devices (visitors and
    #: passers-by), visit_s_sum, median_visit_s
    days: pd.DataFrame
    #: store, day, hour, visits (by the local hour the visit started; day is local too)
    hours: pd.DataFrame
    #: store, day, zone, dwell_s (sum of dwells), zone_s (time in zone)
    zones: pd.DataFrame
    #: store, day, device_id, start_s, length_s: every visit drawn
    visits: pd.DataFrame
    positions: int
    #: the welcome decision log as the CRM keeps it (device_id, customer_id, decided_s,
    #: outcome 'send' or 'control', trigger) plus store and purchased (the truth)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: in-store purchases (customer_id, channel, store, at_s)
    purchases: pd.DataFrame = field(default_factory=pd.DataFrame)


def _zone_boxes(layout: Layout) -> tuple[list[str], npt.NDArray[np.float64]]:
    names = [z.name for z in layout.zones]
    boxes = np.array([[*z.polygon.min(axis=0), *z.polygon.max(axis=0)] for z in layout.zones])
    return names, boxes


def _day(
    rng: np.random.Generator,
    p: ChainParams,
    layout: Layout,
    store: str,
    store_i: int,
    day: dt.date,
) -> tuple[pa.Table, pa.Table, ChainTruth]:
    """One store-day: its positions, its events and its truth."""
    zone_names, boxes = _zone_boxes(layout)
    weekend = day.weekday() >= 5
    mean = p.visits_per_day * p.store_scale(store_i) * (p.weekend_factor if weekend else 1.0)
    n = int(rng.poisson(mean))
    zone = ZoneInfo(p.timezone(store_i))
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp()
    hour = rng.choice(24, size=n, p=hour_profile())
    start = np.floor(midnight + hour * 3600 + rng.uniform(0, 3600, size=n))
    length = np.clip(
        rng.lognormal(np.log(p.median_visit_s), p.visit_sigma, size=n), 60, p.max_visit_s
    ).astype(np.int64)
    regular = rng.random(n) < p.regular_share
    ids = np.array([f"{store}:{day.isoformat()}:{i:05d}" for i in range(n)], dtype=object)
    ids[regular] = [f"{store}:regular:{j:04d}" for j in rng.integers(0, p.regulars, regular.sum())]
    # each visit: 1-4 zone stops splitting its length at random cut points
    stops = rng.integers(1, 5, size=n)
    seg_visit = np.repeat(np.arange(n), stops)
    cuts = rng.random(len(seg_visit))
    first_seg = np.concatenate([[0], np.cumsum(stops)[:-1]])
    order = np.lexsort((cuts, seg_visit))
    cuts = cuts[order]
    cuts[first_seg] = 0.0
    seg_start = start[seg_visit] + np.floor(cuts * length[seg_visit])
    seg_end = np.append(seg_start[1:], 0.0)
    last = np.append(first_seg[1:] - 1, len(seg_visit) - 1)
    seg_end[last] = start + length
    seg_zone = rng.integers(0, len(zone_names), size=len(seg_visit))
    seg_len = (seg_end - seg_start).astype(np.int64)
    keep = seg_len > 0
    seg_visit, seg_start, seg_end, seg_zone, seg_len = (
        a[keep] for a in (seg_visit, seg_start, seg_end, seg_zone, seg_len)
    )
    # positions: one per second of each zone stop, uniform over the zone's bounding box
    # (np.repeat of per-stop values: far cheaper than indexing per row)
    rows = int(seg_len.sum())
    offset = np.arange(rows, dtype=np.float64) - np.repeat(np.cumsum(seg_len) - seg_len, seg_len)
    t = np.repeat(seg_start, seg_len) + offset / SAMPLE_HZ
    b = boxes[seg_zone]
    x = np.repeat(b[:, 0], seg_len) + rng.random(rows) * np.repeat(b[:, 2] - b[:, 0], seg_len)
    y = np.repeat(b[:, 1], seg_len) + rng.random(rows) * np.repeat(b[:, 3] - b[:, 1], seg_len)
    # passers-by: heard in the street (y < 0) for a few seconds, any hour the shop is open
    n_pass = int(rng.poisson(n * p.passersby_per_visit))
    pass_ids = np.array(
        [f"{store}:{day.isoformat()}:p{i:05d}" for i in range(n_pass)], dtype=object
    )
    p_start = midnight + rng.choice(24, size=n_pass, p=hour_profile()) * 3600.0
    p_start = np.floor(p_start + rng.uniform(0, 3600 - PASSERBY_SAMPLES, size=n_pass))
    p_t = np.repeat(p_start, PASSERBY_SAMPLES) + np.tile(np.arange(PASSERBY_SAMPLES), n_pass)
    p_x = rng.uniform(0, layout.width_m, size=len(p_t))
    p_y = -rng.uniform(0.5, 3.0, size=len(p_t))
    unique_ids, id_code = np.unique(np.concatenate([ids, pass_ids]), return_inverse=True)
    id_code = id_code.astype(np.int32)
    dev_all = np.concatenate(
        [np.repeat(id_code[seg_visit], seg_len), np.repeat(id_code[n:], PASSERBY_SAMPLES)]
    )
    zone_all = np.concatenate(
        [np.repeat(seg_zone.astype(np.int32), seg_len), np.full(len(p_t), -1, dtype=np.int32)]
    )
    positions = pa.table(
        {
            "device_id": pa.DictionaryArray.from_arrays(
                pa.array(dev_all), pa.array(unique_ids, pa.string())
            ),
            "t_s": pa.array(np.concatenate([t, p_t])),
            "x_m": pa.array(np.concatenate([x, p_x])),
            "y_m": pa.array(np.concatenate([y, p_y])),
            "zone": pa.DictionaryArray.from_arrays(
                pa.array(zone_all, mask=zone_all < 0), pa.array(zone_names, pa.string())
            ),
            "sigma_m": pa.array(np.full(len(dev_all), 1.5)),
        }
    )
    events = _events(
        store, day, ids, start, length, seg_visit, seg_start, seg_end, seg_zone, zone_names
    )
    dwell = seg_len >= DWELL_MIN_S
    visitors = np.unique(ids)
    day_row = {
        "store": store,
        "day": day,
        "visits": n,
        "visitors": len(visitors),
        "devices": len(visitors) + n_pass,
        "visit_s_sum": float(length.sum()),
        "median_visit_s": float(np.median(length)) if n else float("nan"),
    }
    hours = np.bincount(hour, minlength=24)
    zone_dwell = np.bincount(seg_zone[dwell], seg_len[dwell], minlength=len(zone_names))
    zone_s = np.bincount(seg_zone, seg_len, minlength=len(zone_names))
    truth = ChainTruth(
        days=pd.DataFrame([day_row]),
        hours=pd.DataFrame({"store": store, "day": day, "hour": np.arange(24), "visits": hours}),
        zones=pd.DataFrame(
            {
                "store": store,
                "day": day,
                "zone": zone_names,
                "dwell_s": zone_dwell,
                "zone_s": zone_s,
            }
        ),
        visits=pd.DataFrame(
            {"store": store, "day": day, "device_id": ids, "start_s": start, "length_s": length}
        ),
        positions=positions.num_rows,
    )
    return positions, events, truth


def _events(
    store: str,
    day: dt.date,
    ids: npt.NDArray[np.object_],
    start: npt.NDArray[np.float64],
    length: npt.NDArray[np.int64],
    seg_visit: npt.NDArray[np.int64],
    seg_start: npt.NDArray[np.float64],
    seg_end: npt.NDArray[np.float64],
    seg_zone: npt.NDArray[np.int64],
    zone_names: list[str],
) -> pa.Table:
    """Store enter/exit per visit, zone enter/exit per stop, dwell start/end per long stop."""
    seg_len = seg_end - seg_start
    dwell = seg_len >= DWELL_MIN_S
    zones = np.array(zone_names, dtype=object)
    parts = [
        (STORE_ENTER, ids, start, None, None),
        (STORE_EXIT, ids, start + length, None, length.astype(float)),
        (ZONE_ENTER, ids[seg_visit], seg_start, zones[seg_zone], None),
        (ZONE_EXIT, ids[seg_visit], seg_end, zones[seg_zone], seg_len),
        (DWELL_START, ids[seg_visit][dwell], seg_start[dwell], zones[seg_zone][dwell], None),
        (DWELL_END, ids[seg_visit][dwell], seg_end[dwell], zones[seg_zone][dwell], seg_len[dwell]),
    ]
    columns: dict[str, list[pa.Array]] = {
        k: [] for k in ("id", "type", "device_id", "time_s", "zone", "duration_s")
    }
    for kind, dev, time_s, zone, duration in parts:
        m = len(dev)
        columns["id"].append(
            pa.array([f"{store}:{day.isoformat()}:{kind}:{i}" for i in range(m)], pa.string())
        )
        columns["type"].append(pa.array([kind] * m, pa.string()))
        columns["device_id"].append(pa.array(dev, pa.string()))
        columns["time_s"].append(pa.array(time_s, pa.float64()))
        columns["zone"].append(pa.array(zone if zone is not None else [None] * m, pa.string()))
        columns["duration_s"].append(
            pa.array(duration if duration is not None else [None] * m, pa.float64())
        )
    table = pa.table({k: pa.concat_arrays(v) for k, v in columns.items()})
    return table.append_column("detected_at_s", table.column("time_s")).select(
        ["id", "type", "device_id", "time_s", "detected_at_s", "zone", "duration_s"]
    )


def _write(table: pa.Table, folder: Path, name: str = "part-synthetic.parquet") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # dictionary pages only for the ids and zones: trying them on random floats costs time
    dictionary = [c for c in ("device_id", "zone", "type") if c in table.column_names]
    pq.write_table(table, folder / name, row_group_size=1 << 20, use_dictionary=dictionary)


def _write_by_utc_date(
    table: pa.Table, t_column: str, kind: Path, store: str, day: dt.date
) -> None:
    """A store-day's rows into the partitions of their UTC dates (one, for a UTC store)."""
    utc_day = np.floor(table.column(t_column).to_numpy() / 86400.0).astype(np.int64)
    for n in np.unique(utc_day) if len(utc_day) else [(day - dt.date(1970, 1, 1)).days]:
        date = dt.date(1970, 1, 1) + dt.timedelta(days=int(n))
        name = (
            "part-synthetic.parquet" if date == day else f"part-synthetic-{day.isoformat()}.parquet"
        )
        whole = len(utc_day) == 0 or utc_day[0] == utc_day[-1] == n and (utc_day == n).all()
        rows = table if whole else table.filter(pa.array(utc_day == n))
        _write(rows, kind / f"store={store}" / f"date={date.isoformat()}", name)


#: A welcome decision comes this long after the store enter (the service decides at once).
DECISION_DELAY_S = 10.0


def _welcome(
    rng: np.random.Generator, p: ChainParams, visits: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decisions and purchases for the one-off visits of one store-day (a regular's id
    visits several times: its visits could overlap, so it stays out of the funnel)."""
    one_off = visits[~visits["device_id"].str.contains(":regular:")]
    chosen = one_off[rng.random(len(one_off)) < p.customer_share]
    n = len(chosen)
    control = rng.random(n) < p.control_share
    bought = rng.random(n) < p.purchase_rate + np.where(control, 0.0, p.purchase_uplift)
    at = chosen["start_s"].to_numpy() + rng.random(n) * chosen["length_s"].to_numpy()
    customers = "c:" + chosen["device_id"].astype(str)
    decisions = pd.DataFrame(
        {
            "device_id": chosen["device_id"].to_numpy(),
            "customer_id": customers.to_numpy(),
            "decided_s": chosen["start_s"].to_numpy() + DECISION_DELAY_S,
            "outcome": np.where(control, "control", "send"),
            "trigger": "store.enter",
            "store": chosen["store"].to_numpy(),
            "purchased": bought,
        }
    )
    purchases = pd.DataFrame(
        {
            "customer_id": customers.to_numpy()[bought],
            "channel": "store",
            "store": chosen["store"].to_numpy()[bought],
            "at_s": at[bought],
        }
    )
    return decisions, purchases


def write_crm(url: str, truth: ChainTruth) -> None:
    """The truth's decision log and purchases as a CRM database (the tables and columns
    :func:`analytics.uplift.read_crm` reads), for ``instore report ARCHIVE --crm URL``."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            truth.decisions.drop(columns=["store", "purchased"]).to_sql(
                "decisions", conn, if_exists="replace", index=False
            )
            truth.purchases.to_sql("purchases", conn, if_exists="replace", index=False)
            pd.DataFrame(columns=["customer_id", "device_id", "status", "decided_s"]).to_sql(
                "outbox", conn, if_exists="replace", index=False
            )
            pd.DataFrame({"device_id": pd.Series([], dtype=str)}).to_sql(
                "staff_devices", conn, if_exists="replace", index=False
            )
    finally:
        engine.dispose()


def write_chain(root: str | Path, layout: Layout, params: ChainParams | None = None) -> ChainTruth:
    """Write the chain's archive under ``root`` and return its truth. One generator, seeded."""
    p = params or ChainParams()
    rng = np.random.default_rng(p.seed)
    welcome_rng = np.random.default_rng([p.seed, 1])
    root = Path(root)
    parts: list[ChainTruth] = []
    funnel: list[tuple[pd.DataFrame, pd.DataFrame]] = []
    for i, store in enumerate(p.names()):
        for d in range(p.days):
            day = p.first_day + dt.timedelta(days=d)
            positions, events, truth = _day(rng, p, layout, store, i, day)
            _write_by_utc_date(positions, "t_s", root / "positions", store, day)
            _write_by_utc_date(events, "time_s", root / "events", store, day)
            parts.append(truth)
            if p.customer_share > 0:
                funnel.append(_welcome(welcome_rng, p, truth.visits))
    return ChainTruth(
        days=pd.concat([t.days for t in parts], ignore_index=True),
        hours=pd.concat([t.hours for t in parts], ignore_index=True),
        zones=pd.concat([t.zones for t in parts], ignore_index=True),
        visits=pd.concat([t.visits for t in parts], ignore_index=True),
        positions=sum(t.positions for t in parts),
        decisions=pd.concat([d for d, _ in funnel], ignore_index=True)
        if funnel
        else pd.DataFrame(),
        purchases=pd.concat([q for _, q in funnel], ignore_index=True)
        if funnel
        else pd.DataFrame(),
    )
