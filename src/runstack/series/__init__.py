"""Metric series for charts: long histories reduced to what a chart can draw, keeping each
bucket's first, last, lowest and highest point so that a one-step spike stays visible."""

from runstack.series.reduction import (
    MIN_MAX_POINTS,
    Points,
    Summary,
    bucket_width,
    reduce_points,
    reduce_summaries,
)

__all__ = [
    "MIN_MAX_POINTS",
    "Points",
    "Summary",
    "bucket_width",
    "reduce_points",
    "reduce_summaries",
]
