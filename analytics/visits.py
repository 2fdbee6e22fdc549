"""Visit statistics: visits per hour, duration buckets, passers-by versus visitors, new
versus repeat visitors. All vectorised over the visits frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

#: Visit-length buckets used by commercial footfall analytics (visitor-length reports):
#: below 5 min is a bounce or a walk-through, 6 h and more is staff or a device left behind.
DURATION_BUCKETS_S: tuple[tuple[str, float, float], ...] = (
    ("< 5 min", 0.0, 300.0),
    ("5-20 min", 300.0, 1200.0),
    ("20-60 min", 1200.0, 3600.0),
    ("1-6 h", 3600.0, 21600.0),
    ("6 h+", 21600.0, np.inf),
)


@dataclass(frozen=True, slots=True)
class VisitStats:
    visits: int
    visitors: int  # distinct devices with a visit (staff excluded)
    passersby: int  # devices seen outside only
    staff: int
    capture_rate: float | None  # visitors / (visitors + passers-by)
    per_hour: pd.Series  # hour start (tz-aware Timestamp) -> visits starting in it
    buckets: pd.Series  # bucket label -> visits
    new_visits: int  # first visit of a device in the data
    repeat_visits: int  # later visits of the same device
    median_duration_s: float | None
    timezone: str

    def to_dict(self) -> dict[str, object]:
        return {
            "visits": self.visits,
            "visitors": self.visitors,
            "passersby": self.passersby,
            "staff": self.staff,
            "capture_rate": self.capture_rate,
            "median_duration_s": self.median_duration_s,
            "new_visits": self.new_visits,
            "repeat_visits": self.repeat_visits,
            "timezone": self.timezone,
            "per_hour": {ts.isoformat(): int(n) for ts, n in self.per_hour.items()},
            "duration_buckets": {str(k): int(v) for k, v in self.buckets.items()},
        }


def duration_buckets(duration_s: pd.Series) -> pd.Series:
    edges = [b[1] for b in DURATION_BUCKETS_S] + [np.inf]
    labels = [b[0] for b in DURATION_BUCKETS_S]
    idx = np.clip(
        np.searchsorted(edges, duration_s.to_numpy(), side="right") - 1, 0, len(labels) - 1
    )
    counts = np.bincount(idx, minlength=len(labels))
    return pd.Series(counts, index=labels, name="visits")


def visits_per_hour(start_s: pd.Series, timezone: str = "UTC") -> pd.Series:
    """Visits by the local hour they started in, every hour of the span present (zeros too)."""
    if start_s.empty:
        return pd.Series([], dtype=np.int64, name="visits")
    stamps = pd.to_datetime(start_s.to_numpy(), unit="s", utc=True).tz_convert(timezone).floor("h")
    counts = pd.Series(1, index=stamps).groupby(level=0).sum()
    span = pd.date_range(counts.index.min(), counts.index.max(), freq="h")
    return counts.reindex(span, fill_value=0).rename("visits")


def visit_stats(visits: pd.DataFrame, roles: pd.Series, timezone: str = "UTC") -> VisitStats:
    """Statistics of the visits frame; devices whose role is "staff" are left out."""
    staff_ids = set(roles.index[roles == "staff"])
    v = visits[~visits["device_id"].astype(str).isin(staff_ids)]
    dev = v["device_id"].astype(str)
    visitors = int(dev.nunique())
    passersby = int((roles == "passerby").sum())
    seen = visitors + passersby
    first = ~dev.duplicated()
    return VisitStats(
        visits=len(v),
        visitors=visitors,
        passersby=passersby,
        staff=len(staff_ids),
        capture_rate=visitors / seen if seen else None,
        per_hour=visits_per_hour(v["start_s"], timezone),
        buckets=duration_buckets(v["duration_s"]),
        new_visits=int(first.sum()),
        repeat_visits=int((~first).sum()),
        median_duration_s=float(v["duration_s"].median()) if len(v) else None,
        timezone=timezone,
    )


def draw_per_hour(ax: Axes, stats: VisitStats) -> None:
    hours = stats.per_hour
    labels = [ts.strftime("%H:%M") for ts in hours.index]
    ax.bar(range(len(hours)), hours.to_numpy(), color="#3b6ea5")
    step = max(1, len(labels) // 12)
    ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
    ax.set_xlabel(f"hour the visit started ({stats.timezone})")
    ax.set_ylabel("visits")
    ax.set_title("Visits per hour")
    ax.grid(axis="y", alpha=0.3)


def draw_buckets(ax: Axes, stats: VisitStats) -> None:
    b = stats.buckets
    ax.bar(b.index.astype(str), b.to_numpy(), color="#5b8c5a")
    for i, n in enumerate(b.to_numpy()):
        ax.annotate(str(int(n)), (i, n), ha="center", va="bottom", fontsize=9)
    ax.set_xlabel("visit length")
    ax.set_ylabel("visits")
    ax.set_title("Visit duration")
    ax.grid(axis="y", alpha=0.3)


def draw_capture(ax: Axes, stats: VisitStats) -> None:
    labels = ["visitors", "passers-by", "new visits", "repeat visits"]
    values = [stats.visitors, stats.passersby, stats.new_visits, stats.repeat_visits]
    colours = ["#3b6ea5", "#b0b0b0", "#5b8c5a", "#c9822b"]
    ax.barh(labels[::-1], values[::-1], color=colours[::-1])
    for i, n in enumerate(values[::-1]):
        ax.annotate(f" {n}", (n, i), va="center", fontsize=9)
    rate = "n/a" if stats.capture_rate is None else f"{100 * stats.capture_rate:.1f} %"
    ax.set_title(f"Capture rate (visitors / devices seen): {rate}")
    ax.set_xlabel("count")
