"""A short sentence a fraud analyst can read, built from a flagged window's raw arrays.

It describes the events the attribution ranked highest: their dominant type, how many such
events the window holds, on how many items, over what time span, and how regular their spacing
is (bots click at near-constant intervals; people do not).

>>> reason_text(["ad_click"] * 31, ["i9"] * 31, [1.4] * 31, [3] * 31, [0, 1, 2])
'31 ad clicks on one sponsored item in 42 s, intervals almost constant'
>>> reason_text(["view", "search", "view", "view"], ["a", None, "b", "c"],
...             [0.0, 20.0, 35.0, 400.0], [2, 1, 2, 2], [3, 0])
'3 views on 3 items in 7.6 min'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

SPONSORED = 3  # sponsored_flags id of a sponsored event (ubsd.sessionize.features)
_PLURAL = {
    "search": "searches",
    "ad_click": "ad clicks",
    "add_to_cart": "add-to-carts",
    "remove_from_cart": "removals from cart",
}


def plural(event_type: str, n: int) -> str:
    if n == 1:
        return event_type.replace("_", " ")
    return _PLURAL.get(event_type, event_type.replace("_", " ") + "s")


def duration(seconds: float) -> str:
    """Seconds in the unit a person reads fastest.

    >>> duration(42.4), duration(430), duration(9000)
    ('42 s', '7.2 min', '2.5 h')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def regularity(gaps: np.ndarray) -> str | None:
    if gaps.size < 3:
        return None
    mean = float(gaps.mean())
    if mean > 0 and float(gaps.std()) / mean < 0.15:
        return "intervals almost constant"
    if float(np.median(gaps)) < 1.0:
        return "sub-second intervals"
    return None


def reason_text(
    event_types: Sequence[str | None],
    item_ids: Sequence[str | None],
    dt_seconds: Sequence[float],
    sponsored_flags: Sequence[int],
    top: Sequence[int],
) -> str:
    """Sentence about the dominant event type among the ``top`` event indices."""
    n = len(event_types)
    top = [i for i in top if 0 <= i < n and event_types[i] is not None]
    if not top:
        return "no attributable events"
    kind = Counter(event_types[i] for i in top).most_common(1)[0][0]
    idx = [i for i in range(n) if event_types[i] == kind]
    times = np.cumsum(np.asarray(dt_seconds[:n], dtype=float))
    span = float(times[idx[-1]] - times[idx[0]])
    items = {item_ids[i] for i in idx if item_ids[i] is not None}
    sponsored = all(int(sponsored_flags[i]) == SPONSORED for i in idx)
    text = f"{len(idx)} {plural(kind, len(idx))}"
    if len(items) == 1:
        text += f" on one {'sponsored ' if sponsored else ''}item"
    elif items:
        text += f" on {len(items)} {'sponsored ' if sponsored else ''}items"
    text += f" in {duration(span)}"
    reg = regularity(np.diff(times[idx]))
    return f"{text}, {reg}" if reg else text
