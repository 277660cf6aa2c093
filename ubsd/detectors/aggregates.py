"""Per-window aggregate features: what rules, IsolationForest and boosted trees see.

A window's sequence is summarised into one row of numbers (counts and shares per event type,
rate and timing regularity, item and category diversity, repeats, result positions, prices,
device/IP changes, hour, length). All computed with vectorised numpy over the ``(n, L)`` arrays;
ids follow ``ubsd.sessionize.spec`` (0 = pad, 1 = unknown/absent). Item and category ids are
hash buckets, so "distinct" counts are of buckets (collisions make them slight undercounts).

>>> import numpy as np
>>> from ubsd.io.window_arrays import WindowArrays
>>> w = WindowArrays.from_columns({
...     "event_type_ids": [[6, 6, 6, 0]], "item_buckets": [[9, 9, 9, 0]],
...     "mask": [[1, 1, 1, 0]], "dt_seconds": [[0.0, 1.0, 1.0, 0.0]],
... }, window_length=4)
>>> f = aggregate_features(w)
>>> [float(f[k][0]) for k in ("length", "share_ad_click", "events_per_s", "dt_cv")]
[3.0, 1.0, 1.0, 0.0]
>>> round(float(f["item_max_repeat_share"][0]), 3), round(float(f["distinct_items_ratio"][0]), 3)
(1.0, 0.333)
"""

from __future__ import annotations

import numpy as np

from ubsd.io.schemas import KNOWN_EVENT_TYPES
from ubsd.io.window_arrays import WindowArrays

#: Event-type id of each known type (``2 + index``, see ``ubsd.sessionize.features``).
EVENT_TYPE_ID: dict[str, int] = {t: i + 2 for i, t in enumerate(KNOWN_EVENT_TYPES)}
_FAST_GAP_S = 2.0
_EPS = 1e-9


def _feature(w: WindowArrays, name: str) -> np.ndarray:
    """The feature array, or all-unknown (1 where an event, 0 on padding) when absent."""
    arr = w.features.get(name)
    return w.mask.astype(np.int32) if arr is None else arr


def _runs(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: number of distinct valid values and the longest count of one valid value."""
    n, length = values.shape
    v = np.where(valid, values.astype(np.int64), -1)
    s = np.sort(v, axis=1)
    ok = s >= 0
    start = ok & np.concatenate([np.ones((n, 1), bool), s[:, 1:] != s[:, :-1]], axis=1)
    distinct = start.sum(axis=1)
    group = np.cumsum(start, axis=1)  # run number within the row (valid values only)
    flat = (np.arange(n)[:, None] * (length + 1) + group)[ok]
    counts = np.bincount(flat, minlength=n * (length + 1)).reshape(n, length + 1)
    return distinct.astype(np.float64), counts.max(axis=1).astype(np.float64)


def _gaps(w: WindowArrays) -> tuple[np.ndarray, np.ndarray]:
    """Inter-event seconds inside each window (positions 1..len-1) and their validity mask."""
    mask = w.mask.astype(bool)
    valid = np.zeros_like(mask)
    valid[:, 1:] = mask[:, 1:] & mask[:, :-1]
    if w.dt_seconds is None:
        return np.zeros(mask.shape, np.float64), np.zeros_like(mask)
    gaps = np.where(valid, np.maximum(w.dt_seconds.astype(np.float64), 0.0), 0.0)
    return gaps, valid


def _masked_mean(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    k = m.sum(axis=1)
    return np.where(k > 0, (x * m).sum(axis=1) / np.maximum(k, 1), 0.0)


def aggregate_features(w: WindowArrays) -> dict[str, np.ndarray]:
    """Named ``(n,)`` float arrays, one value per window (see the module docstring)."""
    mask = w.mask.astype(bool)
    length = mask.sum(axis=1).astype(np.float64)
    safe_len = np.maximum(length, 1.0)
    et = _feature(w, "event_type_ids")
    out: dict[str, np.ndarray] = {"length": length}

    for name, tid in EVENT_TYPE_ID.items():
        c = ((et == tid) & mask).sum(axis=1).astype(np.float64)
        out[f"count_{name}"] = c
        out[f"share_{name}"] = c / safe_len
    out["share_unknown_type"] = ((et == 1) & mask).sum(axis=1) / safe_len
    clicks = out["count_click"] + out["count_ad_click"]
    out["ad_clicks_per_click"] = out["count_ad_click"] / np.maximum(clicks, 1.0)
    out["purchases_per_view"] = out["count_purchase"] / np.maximum(out["count_view"], 1.0)
    out["purchase_without_cart"] = np.maximum(out["count_purchase"] - out["count_add_to_cart"], 0.0)
    sp = _feature(w, "sponsored_flags")
    known_sp = ((sp == 2) | (sp == 3)) & mask
    out["share_sponsored"] = ((sp == 3) & mask).sum(axis=1) / np.maximum(known_sp.sum(axis=1), 1)

    gaps, gv = _gaps(w)
    n_gaps = gv.sum(axis=1).astype(np.float64)
    duration = gaps.sum(axis=1)
    mean = _masked_mean(gaps, gv)
    var = _masked_mean((gaps - mean[:, None]) ** 2, gv)
    std = np.sqrt(var)
    out["duration_s"] = duration
    out["events_per_s"] = np.where(n_gaps > 0, n_gaps / np.maximum(duration, 1.0), 0.0)
    out["dt_mean"] = mean
    out["dt_std"] = std
    out["dt_cv"] = np.where(mean > _EPS, std / np.maximum(mean, _EPS), 0.0)
    out["dt_min"] = np.where(n_gaps > 0, np.where(gv, gaps, np.inf).min(axis=1), 0.0)
    out["dt_max"] = np.where(gv, gaps, 0.0).max(axis=1)
    logg = np.log1p(gaps)
    lmean = _masked_mean(logg, gv)
    out["log_dt_mean"] = lmean
    out["log_dt_std"] = np.sqrt(_masked_mean((logg - lmean[:, None]) ** 2, gv))
    out["share_fast_gaps"] = np.where(
        n_gaps > 0, ((gaps < _FAST_GAP_S) & gv).sum(axis=1) / np.maximum(n_gaps, 1), 0.0
    )
    out["n_gaps"] = n_gaps

    items = _feature(w, "item_buckets")
    item_ok = mask & (items >= 2)
    n_items = item_ok.sum(axis=1).astype(np.float64)
    distinct, max_rep = _runs(items, item_ok)
    out["share_with_item"] = n_items / safe_len
    out["distinct_items_ratio"] = np.where(n_items > 0, distinct / np.maximum(n_items, 1), 0.0)
    out["item_max_repeat"] = max_rep
    out["item_max_repeat_share"] = np.where(n_items > 0, max_rep / np.maximum(n_items, 1), 0.0)
    cats = _feature(w, "category_buckets")
    cat_ok = mask & (cats >= 2)
    n_cats = cat_ok.sum(axis=1).astype(np.float64)
    cdistinct, cmax = _runs(cats, cat_ok)
    out["distinct_categories_ratio"] = np.where(n_cats > 0, cdistinct / np.maximum(n_cats, 1), 0)
    out["category_max_repeat_share"] = np.where(n_cats > 0, cmax / np.maximum(n_cats, 1), 0.0)
    both = cat_ok[:, 1:] & cat_ok[:, :-1]
    switches = ((cats[:, 1:] != cats[:, :-1]) & both).sum(axis=1)
    out["category_switch_rate"] = switches / np.maximum(both.sum(axis=1), 1)

    pos = _feature(w, "position_buckets")
    pos_ok = mask & (pos >= 2)
    p = (pos - 2).astype(np.float64)
    out["share_with_position"] = pos_ok.sum(axis=1) / safe_len
    out["position_mean"] = _masked_mean(p, pos_ok)
    out["position_max"] = np.where(pos_ok, p, 0.0).max(axis=1)
    out["share_top2_positions"] = ((p <= 2) & pos_ok).sum(axis=1) / np.maximum(
        pos_ok.sum(axis=1), 1
    )

    price = _feature(w, "price_buckets")
    price_ok = mask & (price >= 2)
    out["price_mean"] = _masked_mean(price.astype(np.float64), price_ok)
    out["price_max"] = np.where(price_ok, price, 0).max(axis=1).astype(np.float64)
    bought = price_ok & (et == EVENT_TYPE_ID["purchase"])
    out["purchase_price_max"] = np.where(bought, price, 0).max(axis=1).astype(np.float64)

    dev = _feature(w, "device_change_flags")
    ip = _feature(w, "ip_change_flags")
    out["device_changes"] = ((dev == 2) & mask).sum(axis=1).astype(np.float64)
    out["ip_changes"] = ((ip == 2) & mask).sum(axis=1).astype(np.float64)
    dtb = _feature(w, "dt_buckets")
    out["session_start_in_window"] = ((dtb == 1) & mask).any(axis=1).astype(np.float64)

    hours = _feature(w, "hours")
    hour = np.where(length > 0, hours[:, 0] - 1, 0).astype(np.float64)
    out["hour_sin"] = np.sin(2 * np.pi * hour / 24)
    out["hour_cos"] = np.cos(2 * np.pi * hour / 24)
    return out


def aggregate_matrix(w: WindowArrays) -> tuple[np.ndarray, list[str]]:
    """The features as an ``(n, k)`` float matrix with their column names (stable order)."""
    feats = aggregate_features(w)
    names = list(feats)
    return np.column_stack([feats[k] for k in names]).astype(np.float64), names
