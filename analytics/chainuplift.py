"""The welcome message's uplift on the chain page: per store and over the chain, messaged
visits against the control group, with the k rule.

The funnel is :func:`analytics.queries.welcome` run by the engine over the period's visits
and the CRM's decision log and in-store purchases (``--crm URL``); the intervals come from
its moments as in the single-run report (:func:`analytics.uplift.uplift_of_groups`: a
Newcombe interval for the purchase rate, Welch for the dwell after the decision).

k-anonymity: a row is shown only when the messaged group and the control group each hold
at least k distinct devices (or none); otherwise every number of it is withheld.
"""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa

from analytics import queries
from analytics.engines import Engine
from analytics.uplift import PURCHASE_GRACE_S, CrmTables, uplift_of_groups

__all__ = ["ALL_STORES", "UPLIFT_COLUMNS", "chain_uplift", "register_crm"]

#: The chain-wide row's label in the ``store`` column.
ALL_STORES = "all stores"
UPLIFT_COLUMNS = (
    "store",
    "messaged",
    "control",
    "messaged_purchase_rate",
    "control_purchase_rate",
    "purchase_uplift",
    "purchase_uplift_low",
    "purchase_uplift_high",
    "dwell_uplift_s",
    "dwell_uplift_low_s",
    "dwell_uplift_high_s",
    "suppressed",
)


def register_crm(engine: Engine, crm: CrmTables) -> None:
    """The relations ``decisions`` and ``purchases`` (in-store only) the query reads."""
    d = crm.decisions
    engine.register_table(
        "decisions",
        pa.table(
            {
                "device_id": pa.array(d["device_id"].astype(str).tolist(), pa.string()),
                "customer_id": pa.array(d["customer_id"].astype(str).tolist(), pa.string()),
                "decided_s": pa.array(d["decided_s"].astype(float).tolist(), pa.float64()),
                "outcome": pa.array(d["outcome"].astype(str).tolist(), pa.string()),
            }
        ),
    )
    p = crm.purchases
    engine.register_table(
        "purchases",
        pa.table(
            {
                "customer_id": pa.array(p["customer_id"].astype(str).tolist(), pa.string()),
                "at_s": pa.array(p["at_s"].astype(float).tolist(), pa.float64()),
            }
        ),
    )


def _row(store: str, groups: pd.DataFrame, k: int) -> dict[str, object]:
    up = uplift_of_groups(groups, store_visits=0)
    visitors = [int(v) for v in groups["visitors"]] if len(groups) else []
    suppressed = any(0 < v < k for v in visitors)
    n_t, n_c = up.funnel["messaged"], up.funnel["control group"]
    values: dict[str, object] = {
        "messaged": n_t,
        "control": n_c,
        "messaged_purchase_rate": up.purchase_rate["messaged"],
        "control_purchase_rate": up.purchase_rate["control"],
        "purchase_uplift": up.purchase_uplift[0],
        "purchase_uplift_low": up.purchase_uplift[1],
        "purchase_uplift_high": up.purchase_uplift[2],
        "dwell_uplift_s": up.dwell_uplift[0],
        "dwell_uplift_low_s": up.dwell_uplift[1],
        "dwell_uplift_high_s": up.dwell_uplift[2],
    }
    if suppressed:
        values = dict.fromkeys(values, math.nan)
    return {"store": store, **values, "suppressed": suppressed}


def chain_uplift(engine: Engine, crm: CrmTables, k: int) -> pd.DataFrame:
    """One row per store with a welcome decision in the period, then the chain's row
    (:data:`ALL_STORES`); columns :data:`UPLIFT_COLUMNS`. Needs the ``visits`` and
    ``dwells`` views registered over the period."""
    register_crm(engine, crm)
    per_store = engine.table(queries.welcome(PURCHASE_GRACE_S, by_store=True)).to_pandas()
    chain = engine.table(queries.welcome(PURCHASE_GRACE_S)).to_pandas()
    rows = [
        _row(str(store), groups.drop(columns="store"), k)
        for store, groups in per_store.groupby("store", sort=True)
    ]
    rows.append(_row(ALL_STORES, chain, k))
    return pd.DataFrame(rows, columns=list(UPLIFT_COLUMNS))
