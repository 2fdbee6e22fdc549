"""Analytics for analysts: dwell heatmaps, visit and zone statistics, flows, uplift, reports."""

from analytics.errors import AnalyticsError

__all__ = ["AnalyticsError"]
