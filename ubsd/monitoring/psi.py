"""Population stability index (PSI) over reference bins, in plain Python (no Spark).

PSI = sum over bins of (a - e) * ln(a / e), with ``e`` the reference share and ``a`` the share
observed today. Common practice reads it as: below 0.1 stable, 0.1 to 0.2 moderate shift, above
0.2 a shift worth an alert. Empty bins are floored at ``eps`` so a bin that appears or vanishes
costs a large but finite amount.

Bins come from reference quantiles: the interior quantiles are the edges of right-closed bins
``(-inf, e1], (e1, e2], ..., (ek, inf)``. Ties (many equal scores) merge bins rather than make
empty ones; the expected share of a merged bin is read off the quantile levels.

>>> qs = [i / 20 for i in range(21)]            # reference: uniform on [0, 1]
>>> edges = interior_edges(qs)
>>> len(edges), edges[0], edges[-1]
(19, 0.05, 0.95)
>>> expected = expected_from_quantiles(qs)
>>> round(sum(expected), 6), round(expected[0], 6)
(1.0, 0.05)
>>> psi(expected, expected)
0.0
>>> today = [0.1] * 10 + [0.0] * 10             # all the mass in the lower half
>>> round(psi(expected, today), 3)
3.448
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence

#: Floor for empty bins: a bin with no rows on one side counts as holding this share.
EPS = 1e-4


def psi(expected: Sequence[float], actual: Sequence[float], eps: float = EPS) -> float:
    """PSI between two share vectors over the same bins (each normalised to sum 1).

    >>> round(psi([0.5, 0.5], [0.6, 0.4]), 4)
    0.0405
    >>> round(psi([0.5, 0.5], [1.0, 0.0]), 3)   # a vanished bin is costly, not infinite
    4.604
    """
    if len(expected) != len(actual):
        raise ValueError(f"bins differ: {len(expected)} expected vs {len(actual)} actual")
    e_tot, a_tot = float(sum(expected)), float(sum(actual))
    if e_tot <= 0 or a_tot <= 0:
        raise ValueError("PSI needs a non-empty reference and a non-empty day")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e_s, a_s = max(e / e_tot, eps), max(a / a_tot, eps)
        total += (a_s - e_s) * math.log(a_s / e_s)
    return round(total, 6)


def interior_edges(quantiles: Sequence[float]) -> list[float]:
    """Unique interior quantiles (the first and last are the range, not edges), sorted.

    >>> interior_edges([0.0, 0.0, 0.0, 0.2, 0.2, 1.0])
    [0.0, 0.2]
    """
    return sorted({float(q) for q in quantiles[1:-1]})


def _levels(n: int) -> list[float]:
    return [i / (n - 1) for i in range(n)]


def expected_from_quantiles(quantiles: Sequence[float]) -> list[float]:
    """Reference share of each bin of :func:`interior_edges`, from evenly spaced quantiles.

    The reference CDF at an edge is the highest quantile level whose value is at most the edge;
    a run of tied quantiles is one bin holding all their mass.

    >>> expected_from_quantiles([0.0, 0.0, 0.0, 0.5, 1.0])   # half the mass sits at 0
    [0.5, 0.25, 0.25]
    """
    qs = [float(q) for q in quantiles]
    if len(qs) < 3 or any(b < a for a, b in itertools.pairwise(qs)):
        raise ValueError("need at least 3 quantiles in ascending order")
    levels = _levels(len(qs))
    cdf = []
    for edge in interior_edges(qs):
        k = bisect.bisect_right(qs, edge) - 1  # last quantile <= edge
        cdf.append(levels[k])
    bounds = [0.0, *cdf, 1.0]
    return [round(b - a, 12) for a, b in itertools.pairwise(bounds)]


def shares_by_edges(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Share of ``values`` in each right-closed bin of ``edges`` (small inputs, tests, docs).

    >>> shares_by_edges([0.0, 0.1, 0.2, 0.9], [0.1, 0.5])
    [0.5, 0.25, 0.25]
    """
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[bisect.bisect_left(edges, v)] += 1
    n = len(values)
    return [c / n for c in counts] if n else counts


def categorical_psi(
    expected: Mapping[str, float], actual: Mapping[str, float], eps: float = EPS
) -> tuple[float, list[str]]:
    """PSI over the union of categories (counts or shares); also the categories, sorted.

    >>> value, cats = categorical_psi({"view": 80, "click": 20}, {"view": 50, "ad_click": 50})
    >>> cats, round(value, 2)
    (['ad_click', 'click', 'view'], 5.92)
    """
    cats = sorted(set(expected) | set(actual))
    return psi([expected.get(c, 0.0) for c in cats], [actual.get(c, 0.0) for c in cats], eps), cats


def psi_band(value: float, warn: float, alert: float) -> str:
    """Word for a PSI value: stable, moderate or shifted.

    >>> psi_band(0.05, 0.1, 0.2), psi_band(0.15, 0.1, 0.2), psi_band(0.3, 0.1, 0.2)
    ('stable', 'moderate', 'shifted')
    """
    if value > alert:
        return "shifted"
    return "moderate" if value > warn else "stable"
