"""Histograms and quantiles computed in Spark, so a day of any size reduces to a few numbers.

Only bin counts and quantiles reach the driver; PSI itself is :mod:`ubsd.monitoring.psi`.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def bin_index(value: Column, edges: list[float]) -> Column:
    """Index of the right-closed bin of ``edges`` holding ``value`` (0 .. len(edges)).

    Matches :func:`ubsd.monitoring.psi.shares_by_edges`: a value equal to an edge falls in the
    bin below it.
    """
    if not edges:
        return F.lit(0)
    terms = [(value > F.lit(float(e))).cast("int") for e in edges]
    return reduce(lambda a, b: a + b, terms)


def counts_by_edges(df: DataFrame, column: str, edges: list[float], group: str) -> dict:
    """``{group value: [count per bin]}`` for the non-null values of ``column``."""
    rows = (
        df.where(F.col(column).isNotNull())
        .groupBy(group, bin_index(F.col(column), edges).alias("_bin"))
        .count()
        .collect()
    )
    out: dict = {}
    for r in rows:
        out.setdefault(r[group], [0] * (len(edges) + 1))[r["_bin"]] += r["count"]
    return out


def quantiles(df: DataFrame, column: str, n_bins: int, accuracy: int = 10_000) -> list[float]:
    """``n_bins + 1`` evenly spaced quantiles (min .. max) of ``column``; [] when it is empty."""
    levels = [i / n_bins for i in range(n_bins + 1)]
    row = df.select(
        F.percentile_approx(F.col(column).cast("double"), levels, accuracy).alias("q")
    ).first()
    if row is None or row["q"] is None:
        return []
    return [float(v) for v in row["q"]]


def category_counts(df: DataFrame, column: str, group: str) -> dict[object, dict[str, int]]:
    """``{group value: {category: count}}``; null categories count as ``"<null>"``."""
    rows = (
        df.groupBy(group, F.coalesce(F.col(column), F.lit("<null>")).alias("_cat"))
        .count()
        .collect()
    )
    out: dict[object, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r[group], {})[r["_cat"]] = r["count"]
    return out
