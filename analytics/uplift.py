"""The welcome funnel and its uplift against the control group, from the CRM's tables.

The welcome service logs every decision; a deterministic control group is decided but
never messaged. Comparing the visits of messaged customers with those of the control group
measures what the message changed: a purchase in the store during the visit, and the time
spent dwelling in zones after the decision.

The CRM is read through SQLAlchemy with lightweight table constructs naming the columns of
``presence/crm/schema.py`` (analytics does not import the live system's packages).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from matplotlib.axes import Axes

from analytics.errors import AnalyticsError
from analytics.zones import visit_index

#: Two-sided 95 % normal quantile.
Z_95 = 1.959963984540054
#: A purchase up to this long after the exit still belongs to the visit (the checkout is
#: by the door; the exit event fires once the device is out of range).
PURCHASE_GRACE_S = 600.0

_decisions = sa.table(
    "decisions",
    *(sa.column(c) for c in ("device_id", "customer_id", "decided_s", "outcome", "trigger")),
)
_outbox = sa.table(
    "outbox", *(sa.column(c) for c in ("customer_id", "device_id", "status", "decided_s"))
)
_purchases = sa.table(
    "purchases", *(sa.column(c) for c in ("customer_id", "channel", "store", "at_s"))
)
_staff = sa.table("staff_devices", sa.column("device_id"))


@dataclass(frozen=True, slots=True)
class CrmTables:
    decisions: pd.DataFrame
    outbox: pd.DataFrame
    purchases: pd.DataFrame
    staff_devices: frozenset[str]


def _frame(conn: sa.Connection, statement: sa.Select[Any]) -> pd.DataFrame:
    result = conn.execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def read_crm(url: str) -> CrmTables:
    """Read the decision log, outbox, in-store purchases and staff devices."""
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            tables = CrmTables(
                decisions=_frame(conn, sa.select(_decisions)),
                outbox=_frame(conn, sa.select(_outbox)),
                purchases=_frame(
                    conn, sa.select(_purchases).where(_purchases.c.channel == "store")
                ),
                staff_devices=frozenset(_frame(conn, sa.select(_staff))["device_id"].astype(str)),
            )
        engine.dispose()
    except sa.exc.SQLAlchemyError as e:
        raise AnalyticsError(
            f"--crm {url}: cannot read the CRM tables: {e.__class__.__name__}: {e}"
        ) from e
    return tables


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, z: float = Z_95
) -> tuple[float, float, float]:
    """p1 - p2 with its Newcombe hybrid-score interval (Newcombe 1998, method 10)."""
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    return (d, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2))


def welch_difference(a: np.ndarray, b: np.ndarray, z: float = Z_95) -> tuple[float, float, float]:
    """mean(a) - mean(b) with a normal-approximation Welch interval."""
    if len(a) < 2 or len(b) < 2:
        return (float("nan"), float("nan"), float("nan"))
    d = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return (d, d - z * se, d + z * se)


@dataclass(frozen=True, slots=True)
class Uplift:
    funnel: dict[str, int]
    purchase_rate: dict[str, float | None]  # group -> share of visits with a purchase
    purchase_uplift: tuple[float, float, float]  # difference (treated - control), CI low, high
    dwell_after_s: dict[str, float | None]  # group -> mean zone dwell after the decision
    dwell_uplift: tuple[float, float, float]

    def to_dict(self) -> dict[str, object]:
        def clean(t: tuple[float, float, float]) -> list[float | None]:
            return [None if math.isnan(v) else v for v in t]

        return {
            "funnel": self.funnel,
            "purchase_rate": self.purchase_rate,
            "purchase_uplift_ci95": clean(self.purchase_uplift),
            "dwell_after_s": self.dwell_after_s,
            "dwell_uplift_s_ci95": clean(self.dwell_uplift),
        }


def _first_decision_per_visit(crm: CrmTables, visits: pd.DataFrame) -> pd.DataFrame:
    d = crm.decisions.copy()
    d["device_id"] = d["device_id"].astype(str)
    d["start_s"] = d["decided_s"].astype(float)
    d["visit"] = visit_index(d, visits)
    d = d[d["visit"] >= 0].sort_values("decided_s", kind="stable")
    return d.drop_duplicates("visit", keep="first")


def _purchased(decided: pd.DataFrame, visits: pd.DataFrame, purchases: pd.DataFrame) -> pd.Series:
    if purchases.empty or decided.empty:
        return pd.Series(False, index=decided.index)
    v = decided[["visit", "customer_id"]].copy()
    v["start"] = visits["start_s"].to_numpy()[v["visit"].to_numpy()]
    v["end"] = visits["end_s"].to_numpy()[v["visit"].to_numpy()] + PURCHASE_GRACE_S
    m = v.reset_index().merge(purchases[["customer_id", "at_s"]], on="customer_id")
    hit = m[(m["at_s"] >= m["start"]) & (m["at_s"] <= m["end"])]["index"].unique()
    return pd.Series(decided.index.isin(hit), index=decided.index)


def _dwell_after(decided: pd.DataFrame, visits: pd.DataFrame, dwells: pd.DataFrame) -> pd.Series:
    dw = dwells.copy()
    dw["visit"] = visit_index(dw, visits)
    m = (
        decided[["visit", "decided_s"]]
        .reset_index()
        .merge(dw[["visit", "start_s", "duration_s"]], on="visit")
    )
    total = m[m["start_s"] >= m["decided_s"]].groupby("index")["duration_s"].sum()
    return total.reindex(decided.index, fill_value=0.0)


def uplift(crm: CrmTables, visits: pd.DataFrame, dwells: pd.DataFrame) -> Uplift:
    """Funnel: visits -> visits with a decision -> eligible (send or control) -> messaged."""
    decided = _first_decision_per_visit(crm, visits)
    decided = decided.assign(
        purchased=_purchased(decided, visits, crm.purchases),
        dwell_after_s=_dwell_after(decided, visits, dwells),
    )
    sent = crm.outbox[crm.outbox["status"].astype(str) == "sent"]
    groups = {
        "messaged": decided[decided["outcome"] == "send"],
        "control": decided[decided["outcome"] == "control"],
    }
    funnel = {
        "store visits": len(visits),
        "visits with a welcome decision": len(decided),
        "eligible (messaged or control)": sum(len(g) for g in groups.values()),
        "messaged": len(groups["messaged"]),
        "control group": len(groups["control"]),
        "messages marked sent in the outbox": len(sent),
        "messaged visits with a purchase": int(groups["messaged"]["purchased"].sum()),
        "control visits with a purchase": int(groups["control"]["purchased"].sum()),
    }
    t, c = groups["messaged"], groups["control"]
    return Uplift(
        funnel=funnel,
        purchase_rate={
            k: float(g["purchased"].mean()) if len(g) else None for k, g in groups.items()
        },
        purchase_uplift=newcombe_difference(
            int(t["purchased"].sum()), len(t), int(c["purchased"].sum()), len(c)
        )
        if len(t) and len(c)
        else (float("nan"),) * 3,
        dwell_after_s={
            k: float(g["dwell_after_s"].mean()) if len(g) else None for k, g in groups.items()
        },
        dwell_uplift=welch_difference(
            t["dwell_after_s"].to_numpy(float), c["dwell_after_s"].to_numpy(float)
        ),
    )


def draw_uplift(funnel_ax: Axes, ci_ax: Axes, up: Uplift) -> None:
    """The funnel as horizontal bars; each uplift as a point with its 95 % interval."""
    steps = list(up.funnel)[::-1]
    values = [up.funnel[s] for s in steps]
    funnel_ax.barh(steps, values, color="#3b6ea5")
    for i, n in enumerate(values):
        funnel_ax.annotate(f" {n}", (n, i), va="center", fontsize=9)
    funnel_ax.set_xlabel("visits")
    funnel_ax.set_title("Welcome funnel")
    rows = [
        ("purchase in the visit (pp)", up.purchase_uplift, 100.0),
        ("zone dwell after decision (min)", up.dwell_uplift, 1 / 60),
    ]
    for i, (_, (d, lo, hi), scale) in enumerate(rows):
        if not math.isnan(d):
            ci_ax.errorbar(
                d * scale,
                i,
                xerr=[[(d - lo) * scale], [(hi - d) * scale]],
                fmt="o",
                color="#c0392b",
                capsize=6,
            )
            ci_ax.annotate(
                f"{d * scale:+.1f} [{lo * scale:+.1f}, {hi * scale:+.1f}]",
                (d * scale, i),
                xytext=(0, 10),
                textcoords="offset points",
                ha="center",
                fontsize=9,
            )
    ci_ax.axvline(0, color="grey", lw=1)
    ci_ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ci_ax.set_ylim(-0.7, len(rows) - 0.3)
    ci_ax.set_title("Messaged minus control, 95 % CI")
    ci_ax.grid(axis="x", alpha=0.3)


def _welch_of_moments(
    a: tuple[int, float, float], b: tuple[int, float, float], z: float = Z_95
) -> tuple[float, float, float]:
    """:func:`welch_difference` from (n, mean, sample variance) of each group."""
    (na, ma, va), (nb, mb, vb) = a, b
    if na < 2 or nb < 2:
        return (float("nan"), float("nan"), float("nan"))
    d = ma - mb
    se = math.sqrt(va / na + vb / nb)
    return (d, d - z * se, d + z * se)


def uplift_of_groups(groups: pd.DataFrame, store_visits: int) -> Uplift:
    """The :class:`Uplift` from :func:`analytics.queries.welcome`'s rows (one per outcome:
    visits, purchases, dwell_mean_s, dwell_var_s2), as any engine returns them."""
    rows = {str(r.outcome): r for r in groups.itertuples()}
    names = {"messaged": "send", "control": "control"}

    def stat(name: str) -> tuple[int, int, float, float]:
        r = rows.get(names[name])
        if r is None:
            return (0, 0, float("nan"), float("nan"))
        var = float(r.dwell_var_s2) if r.dwell_var_s2 is not None else float("nan")
        return (int(r.visits), int(r.purchases), float(r.dwell_mean_s), var)

    t, c = stat("messaged"), stat("control")
    return Uplift(
        funnel={
            "store visits": store_visits,
            "visits with a welcome decision": int(groups["visits"].sum()) if len(groups) else 0,
            "eligible (messaged or control)": t[0] + c[0],
            "messaged": t[0],
            "control group": c[0],
            "messaged visits with a purchase": t[1],
            "control visits with a purchase": c[1],
        },
        purchase_rate={
            k: (s[1] / s[0] if s[0] else None) for k, s in (("messaged", t), ("control", c))
        },
        purchase_uplift=newcombe_difference(t[1], t[0], c[1], c[0])
        if t[0] and c[0]
        else (float("nan"),) * 3,
        dwell_after_s={k: (s[2] if s[0] else None) for k, s in (("messaged", t), ("control", c))},
        dwell_uplift=_welch_of_moments((t[0], t[2], t[3]), (c[0], c[2], c[3])),
    )
