"""The analytics, written once as SQL that DuckDB and Spark both run.

Inputs are the relations ``positions`` and ``events`` (:mod:`analytics.sources`). Only the
common ground of the two dialects is used: window functions, ``percentile_cont(q) WITHIN
GROUP (ORDER BY x)``, ``count(DISTINCT ...)``, ``CASE``; days are whole UTC days since the
epoch (``day_n``), hours UTC. k-anonymity is part of each query: a figure resting on 1..k-1
distinct visitors comes out NULL with ``suppressed`` true (:mod:`analytics.privacy`).

Three layers:

1. :data:`VIEWS`: closing events deduplicated by id, then visits, zone visits and dwells
   as intervals; :func:`seen`, the devices seen per store-day.
2. The **daily table** (:data:`DAILY`): per store and day, additive counts that a chain
   page sums over any period (:mod:`analytics.daily` keeps them as Parquet). Its one
   sorted pass over the positions is :func:`floor_cells` (after a plain scan,
   :func:`heard`), which the engine materialises.
3. Figures: ``chain_*`` over the daily relations (``d_store``, ``d_lengths``, ``d_hours``,
   ``d_zones``, ``d_cells``), and per-store figures over the events (``zone_stats``,
   ``flows``).

Distinct visitors are not additive over days, so figures from the daily table count
*visitor-days* (a visitor on two days counts twice), and their k-anonymity test uses the
largest single-day count in the group, a lower bound of its distinct visitors: a figure is
shown only when at least k distinct visitors are certain.
"""

from __future__ import annotations

from positioning.events import DWELL_END, STORE_EXIT, ZONE_EXIT

__all__ = [
    "DAILY",
    "LENGTH_BIN_S",
    "VIEWS",
    "chain_dow_hour",
    "chain_stores",
    "chain_zones",
    "flows",
    "cell_devices",
    "seen",
    "floor_cells",
    "heard",
    "chain_cells",
    "suppress",
    "welcome",
    "zone_stats",
]

#: Visit lengths are kept in the daily table as a histogram of this bin width; the median
#: read from it is interpolated within a bin (error well under one bin).
LENGTH_BIN_S = 10
#: Longest visit length binned separately; longer visits share the last bin (6 h: staff or
#: a device left behind, as in analytics.visits).
LENGTH_CAP_S = 6 * 3600

DAY_S = 86400


def _day(t: str) -> str:
    return f"CAST(floor(({t}) / {DAY_S}) AS BIGINT)"


def suppress(value: str, distinct: str, k: int) -> str:
    """``value``, or NULL when it rests on 1..k-1 distinct visitors."""
    return f"CASE WHEN {distinct} > 0 AND {distinct} < {int(k)} THEN NULL ELSE {value} END"


def _suppressed(distinct: str, k: int) -> str:
    return f"({distinct} > 0 AND {distinct} < {int(k)})"


#: Derived views, in dependency order. A repeated event (same id) is the same occurrence
#: (at-least-once delivery), hence DISTINCT.
VIEWS: tuple[tuple[str, str], ...] = (
    (
        "closing",
        "SELECT DISTINCT store, id, type, device_id, time_s, zone, duration_s FROM events "
        f"WHERE type IN ('{STORE_EXIT}', '{ZONE_EXIT}', '{DWELL_END}') AND duration_s IS NOT NULL",
    ),
    (
        "visits",
        "SELECT store, device_id, time_s - duration_s AS start_s, time_s AS end_s, duration_s, "
        f"{_day('time_s - duration_s')} AS day_n FROM closing WHERE type = '{STORE_EXIT}'",
    ),
    (
        "zone_visits",
        "SELECT store, device_id, zone, time_s - duration_s AS start_s, time_s AS end_s, "
        f"duration_s, {_day('time_s - duration_s')} AS day_n FROM closing "
        f"WHERE type = '{ZONE_EXIT}' AND zone IS NOT NULL",
    ),
    (
        "dwells",
        "SELECT store, device_id, zone, time_s - duration_s AS start_s, time_s AS end_s, "
        f"duration_s, {_day('time_s - duration_s')} AS day_n FROM closing "
        f"WHERE type = '{DWELL_END}' AND zone IS NOT NULL",
    ),
)


def heard(hash_fn: str) -> str:
    """Devices heard per store-day, as ``dev``: a 64-bit hash of store and device id
    (integers sort and group far faster than strings; two ids colliding is a 1-in-10^7 event
    at a million devices a day). A scan without a sort, materialised by the engine: it
    gives :func:`seen` its devices and :func:`floor_cells` each device's store."""
    return (
        f"SELECT DISTINCT store, {_day('t_s')} AS day_n, {hash_fn}(store, device_id) AS dev "
        "FROM positions"
    )


def cell_devices(cell_m: float, max_gap_s: float, hash_fn: str) -> str:
    """Seconds per day, floor cell (ix, iy) and device (``dev`` as in :func:`heard`).
    A view, never materialised: :func:`floor_cells` aggregates it in the same pipeline.

    Each sample stands for the time to the same device's next sample, capped at
    ``max_gap_s`` (as :mod:`analytics.heatmap`). The window is the whole cost of a cold
    report, and its cost grows with the bytes it carries per row: so it carries four
    numbers (no store name, 32-bit cells), and the store comes back by a join on ``dev``."""
    c = float(cell_m)
    return (
        f"WITH p AS (SELECT {hash_fn}(store, device_id) AS dev, t_s, "
        f"CAST(floor(x_m / {c}) AS INT) AS ix, CAST(floor(y_m / {c}) AS INT) AS iy "
        "FROM positions), "
        f"s AS (SELECT dev, {_day('t_s')} AS day_n, ix, iy, "
        f"least(coalesce(lead(t_s) OVER (PARTITION BY dev ORDER BY t_s) - t_s, "
        f"0.0), {float(max_gap_s)}) AS w FROM p) "
        "SELECT day_n, ix, iy, dev, sum(w) AS seconds FROM s GROUP BY 1, 2, 3, 4"
    )


def floor_cells(cell_m: float, max_gap_s: float, hash_fn: str) -> str:
    """The one sorted pass over the positions, materialised by the engine (small: a row per
    store, day and floor cell): ``seconds`` and ``devices`` (distinct devices in the cell,
    one per row of :func:`cell_devices`). Needs ``heard`` materialised first."""
    return (
        "SELECT h.store, cd.day_n, CAST(cd.ix AS BIGINT) AS ix, CAST(cd.iy AS BIGINT) AS iy, "
        "sum(cd.seconds) AS seconds, count(*) AS devices "
        f"FROM ({cell_devices(cell_m, max_gap_s, hash_fn)}) AS cd "
        "JOIN heard AS h ON cd.dev = h.dev AND cd.day_n = h.day_n GROUP BY 1, 2, 3, 4"
    )


def seen(hash_fn: str) -> str:
    """Devices seen per store-day (as in :func:`heard`): heard anywhere (a cell of the floor
    or the street), or with a visit."""
    return (
        "SELECT store, day_n, dev FROM heard "
        f"UNION SELECT store, day_n, {hash_fn}(store, device_id) AS dev FROM visits"
    )


#: The daily table: name -> query over the views. Every column but the keys is additive
#: over days, except the ``visitors`` counts (distinct within the day).
DAILY: dict[str, str] = {
    "d_store": (
        "WITH v AS (SELECT store, day_n, count(*) AS visits, count(DISTINCT device_id) AS visitors, "
        "sum(duration_s) AS visit_s FROM visits GROUP BY store, day_n), "
        "s AS (SELECT store, day_n, count(*) AS devices FROM seen GROUP BY store, day_n) "
        "SELECT s.store, s.day_n, coalesce(v.visits, 0) AS visits, "
        "coalesce(v.visitors, 0) AS visitors, s.devices, coalesce(v.visit_s, 0.0) AS visit_s "
        "FROM s LEFT JOIN v ON s.store = v.store AND s.day_n = v.day_n"
    ),
    "d_lengths": (
        f"SELECT store, day_n, CAST(floor(least(duration_s, {LENGTH_CAP_S}) / {LENGTH_BIN_S}) AS BIGINT) "
        "AS bin, count(*) AS visits FROM visits GROUP BY 1, 2, 3"
    ),
    "d_hours": (
        f"SELECT store, day_n, CAST(floor((start_s - day_n * {DAY_S}) / 3600) AS BIGINT) AS hour, "
        "count(*) AS visits, count(DISTINCT device_id) AS visitors FROM visits GROUP BY 1, 2, 3"
    ),
    "d_zones": (
        "SELECT store, day_n, zone, "
        "count(DISTINCT CASE WHEN kind = 'z' THEN device_id END) AS visitors, "
        "CAST(sum(CASE WHEN kind = 'z' THEN 1 ELSE 0 END) AS BIGINT) AS zone_visits, "
        "sum(CASE WHEN kind = 'z' THEN duration_s ELSE 0.0 END) AS zone_s, "
        "CAST(sum(CASE WHEN kind = 'd' THEN 1 ELSE 0 END) AS BIGINT) AS dwells, "
        "sum(CASE WHEN kind = 'd' THEN duration_s ELSE 0.0 END) AS dwell_s FROM ("
        "SELECT store, day_n, zone, device_id, duration_s, 'z' AS kind FROM zone_visits "
        "UNION ALL SELECT store, day_n, zone, device_id, duration_s, 'd' AS kind FROM dwells"
        ") AS u GROUP BY 1, 2, 3"
    ),
    "d_cells": ("SELECT store, day_n, ix, iy, seconds, devices FROM floor_cells"),
}


def _median_of_bins(group: str) -> str:
    """Median visit length (s) per ``group`` from d_lengths, interpolated within its bin."""
    return (
        f"h AS (SELECT {group}, bin, CAST(sum(visits) AS BIGINT) AS n FROM lengths GROUP BY {group}, bin), "
        f"c AS (SELECT {group}, bin, n, CAST(sum(n) OVER (PARTITION BY {group} ORDER BY bin "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS cum, "
        # a double, not a decimal literal: 2.0 is DECIMAL in both dialects
        f"CAST(sum(n) OVER (PARTITION BY {group}) AS DOUBLE) / 2 AS half FROM h), "
        f"m AS (SELECT {group}, min((bin + (half - (cum - n)) / n) * {LENGTH_BIN_S}) "
        f"AS median_visit_s FROM c WHERE cum >= half AND cum - n < half GROUP BY {group})"
    )


def chain_stores(k: int, bucket: str = "0") -> str:
    """Stores side by side per ``bucket`` (SQL on ``day_n``: "0" for the whole period, a week
    number for week over week): visits, visitor-days, capture rate, median visit length."""
    return (
        f"WITH lengths AS (SELECT store, {bucket} AS bucket, bin, visits FROM d_lengths), "
        f"{_median_of_bins('store, bucket')}, "
        f"s AS (SELECT store, {bucket} AS bucket, CAST(sum(visits) AS BIGINT) AS visits, "
        "CAST(sum(visitors) AS BIGINT) AS visitor_days, "
        "max(visitors) AS k_visitors, CAST(sum(devices) AS BIGINT) AS device_days, sum(visit_s) AS visit_s, "
        "count(DISTINCT day_n) AS days FROM d_store GROUP BY 1, 2) "
        "SELECT s.store, s.bucket, s.days, "
        f"{suppress('s.visits', 's.k_visitors', k)} AS visits, "
        f"{suppress('s.visitor_days', 's.k_visitors', k)} AS visitor_days, "
        f"{suppress('s.visitor_days / nullif(s.device_days, 0)', 's.k_visitors', k)} AS capture_rate, "
        f"{suppress('m.median_visit_s', 's.k_visitors', k)} AS median_visit_s, "
        f"{_suppressed('s.k_visitors', k)} AS suppressed "
        "FROM s LEFT JOIN m ON s.store = m.store AND s.bucket = m.bucket ORDER BY s.store, s.bucket"
    )


def chain_dow_hour(k: int) -> str:
    """Visits per day-of-week (0 Monday) and hour in each store's local time, over the
    selected stores, as the mean per store-day of that weekday. ``local_hours``
    (:func:`analytics.localtime.local_hours`) maps each store-day's UTC hours to local ones;
    its ``weight`` (1/24 per hour) counts the store-days of each local weekday, so the UTC
    page is unchanged and a store-day split over two local days counts in both, in part."""
    return (
        "WITH n AS (SELECT l.dow, sum(l.weight) AS store_days FROM local_hours AS l "
        "JOIN (SELECT DISTINCT store, day_n FROM d_store) AS sd "
        "ON l.store = sd.store AND l.day_n = sd.day_n GROUP BY l.dow), "
        "h AS (SELECT l.dow, l.local_hour AS hour, CAST(sum(d.visits) AS BIGINT) AS visits, "
        "max(d.visitors) AS k_visitors FROM d_hours AS d JOIN local_hours AS l "
        "ON d.store = l.store AND d.day_n = l.day_n AND d.hour = l.hour GROUP BY 1, 2) "
        f"SELECT h.dow, h.hour, {suppress('h.visits / n.store_days', 'h.k_visitors', k)} "
        f"AS visits_per_store_day, {_suppressed('h.k_visitors', k)} AS suppressed "
        "FROM h JOIN n ON h.dow = n.dow ORDER BY h.dow, h.hour"
    )


def chain_zones(k: int) -> str:
    """Dwell per zone per visitor (seconds of dwell in the zone per visitor-day of the store)."""
    return (
        "WITH v AS (SELECT store, CAST(sum(visitors) AS BIGINT) AS visitor_days FROM d_store GROUP BY store), "
        "z AS (SELECT store, zone, sum(dwell_s) AS dwell_s, sum(zone_s) AS zone_s, "
        "max(visitors) AS k_visitors FROM d_zones GROUP BY store, zone) "
        "SELECT z.store, z.zone, "
        f"{suppress('z.dwell_s / nullif(v.visitor_days, 0)', 'z.k_visitors', k)} AS dwell_s_per_visitor, "
        f"{suppress('z.zone_s / nullif(v.visitor_days, 0)', 'z.k_visitors', k)} AS zone_s_per_visitor, "
        f"{_suppressed('z.k_visitors', k)} AS suppressed "
        "FROM z JOIN v ON z.store = v.store ORDER BY z.store, z.zone"
    )


def chain_cells() -> str:
    """Floor cells of each store over the period: seconds and the largest single-day count of
    distinct devices (``k_devices``, for the k rule). Suppression is left to the caller: the
    smoothing must drop small cells first (analytics.heatmap.smoothed_density)."""
    return (
        "SELECT store, ix, iy, sum(seconds) AS seconds, max(devices) AS k_devices "
        "FROM d_cells GROUP BY 1, 2, 3 ORDER BY 1, 3, 2"
    )


def zone_stats(k: int) -> str:
    """Per store and zone over the selection: distinct visitors, zone visits, dwells, dwell
    median and 90th percentile (s)."""
    return (
        "WITH z AS (SELECT store, zone, count(DISTINCT device_id) AS visitors, "
        "count(*) AS zone_visits FROM zone_visits GROUP BY 1, 2), "
        "d AS (SELECT store, zone, count(*) AS dwells, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) AS dwell_median_s, "
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_s) AS dwell_p90_s "
        "FROM dwells GROUP BY 1, 2) "
        "SELECT z.store, z.zone, "
        + ", ".join(
            f"{suppress(f'{col}', 'z.visitors', k)} AS {name}"
            for col, name in (
                ("z.visitors", "visitors"),
                ("z.zone_visits", "zone_visits"),
                ("coalesce(d.dwells, 0)", "dwells"),
                ("d.dwell_median_s", "dwell_median_s"),
                ("d.dwell_p90_s", "dwell_p90_s"),
            )
        )
        + f", {_suppressed('z.visitors', k)} AS suppressed "
        "FROM z LEFT JOIN d ON z.store = d.store AND z.zone = d.zone ORDER BY z.store, z.zone"
    )


def flows(k: int, max_gap_s: float) -> str:
    """Zone-to-zone transitions per store: a device's next zone visit in another zone starting
    within ``max_gap_s`` of leaving the previous one (analytics.flows)."""
    return (
        "WITH o AS (SELECT store, device_id, zone, start_s, "
        "lag(zone) OVER (PARTITION BY store, device_id ORDER BY start_s, end_s) AS prev_zone, "
        "lag(end_s) OVER (PARTITION BY store, device_id ORDER BY start_s, end_s) AS prev_end "
        "FROM zone_visits), "
        "t AS (SELECT store, prev_zone AS from_zone, zone AS to_zone, count(*) AS transitions, "
        "count(DISTINCT device_id) AS devices FROM o WHERE prev_zone IS NOT NULL "
        f"AND prev_zone <> zone AND start_s - prev_end <= {float(max_gap_s)} GROUP BY 1, 2, 3) "
        f"SELECT store, from_zone, to_zone, {suppress('transitions', 'devices', k)} AS transitions, "
        f"{_suppressed('devices', k)} AS suppressed FROM t ORDER BY 1, 2, 3"
    )


def welcome(grace_s: float, slack_s: float = 60.0, by_store: bool = False) -> str:
    """The welcome funnel per outcome ('send', 'control', ...) over the relations
    ``decisions`` (device_id, customer_id, decided_s, outcome) and ``purchases``
    (customer_id, at_s: in-store only): each visit's first decision (within ``slack_s`` of
    the visit), whether the customer bought in the store from the visit's start to
    ``grace_s`` after its end, and the dwell seconds in the visit after the decision
    (analytics.uplift). Moments, not rows, come out: the intervals are computed from them.
    ``visitors`` (distinct devices per group) is for the k rule; ``by_store`` adds ``store``
    to the groups (the chain page: :func:`analytics.chain.chain_uplift`)."""
    return (
        "WITH v AS (SELECT store, device_id, start_s, end_s, "
        "row_number() OVER (ORDER BY store, device_id, start_s) AS visit FROM visits), "
        "d AS (SELECT v.visit, v.store, v.device_id, v.start_s, v.end_s, x.customer_id, "
        "x.decided_s, x.outcome, row_number() OVER (PARTITION BY v.visit ORDER BY x.decided_s) "
        "AS rank FROM decisions AS x JOIN v ON x.device_id = v.device_id "
        f"AND x.decided_s >= v.start_s - {float(slack_s)} AND x.decided_s <= v.end_s + {float(slack_s)}), "
        "f AS (SELECT * FROM d WHERE rank = 1), "
        "p AS (SELECT f.visit, max(CASE WHEN pu.at_s IS NULL THEN 0 ELSE 1 END) AS purchased "
        "FROM f LEFT JOIN purchases AS pu ON pu.customer_id = f.customer_id "
        f"AND pu.at_s >= f.start_s AND pu.at_s <= f.end_s + {float(grace_s)} GROUP BY f.visit), "
        "w AS (SELECT f.visit, coalesce(sum(dw.duration_s), 0.0) AS dwell_after_s FROM f "
        "LEFT JOIN dwells AS dw ON dw.store = f.store AND dw.device_id = f.device_id "
        f"AND dw.start_s >= f.decided_s AND dw.start_s <= f.end_s + {float(slack_s)} "
        "GROUP BY f.visit) "
        f"SELECT {'f.store, ' if by_store else ''}f.outcome, count(*) AS visits, "
        "CAST(sum(p.purchased) AS BIGINT) AS purchases, "
        "avg(w.dwell_after_s) AS dwell_mean_s, var_samp(w.dwell_after_s) AS dwell_var_s2, "
        "count(DISTINCT f.device_id) AS visitors "
        "FROM f JOIN p ON f.visit = p.visit JOIN w ON f.visit = w.visit "
        f"GROUP BY {'f.store, ' if by_store else ''}f.outcome "
        f"ORDER BY {'f.store, ' if by_store else ''}f.outcome"
    )
