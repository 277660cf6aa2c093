"""Fraud types as scripted cycles (see ``_sim.run_cycles``), one builder per type.

Each builder gets the type's attack sessions (global ids, sorted by owner then time), the
owner of each session as an index into the type's members, a per-member context made by the
matching ``*_context`` function, and the type's parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ubsd.synth._sim import Cycles, expand, lognormal_ms, sigma_from_cv
from ubsd.synth._world import Catalog
from ubsd.synth.profiles import (
    AccountTakeoverParams,
    AdClickSpamParams,
    BrushingParams,
    ClickBotParams,
    ClickFarmParams,
    ScraperParams,
)

_CAP_S = 1200.0


def _uniform(rng: np.random.Generator, bounds: tuple[int, int], n: int, low: int = 1) -> np.ndarray:
    lo, hi = max(int(bounds[0]), low), max(int(bounds[1]), int(bounds[0]), low)
    return rng.integers(lo, hi + 1, n)


def _counts(*cols: np.ndarray | int, n: int) -> np.ndarray:
    return np.stack([np.broadcast_to(np.asarray(c, dtype=np.int64), (n,)) for c in cols], axis=1)


def _target_pos(rng: np.random.Generator, n_imp: np.ndarray, top: int) -> np.ndarray:
    """A sponsored listing's index among the impressions (one of the first ``top``)."""
    hi = np.maximum(np.minimum(n_imp, top), 1)
    return np.where(n_imp > 0, rng.integers(0, hi), -1)


def _main_gap(rng: np.random.Generator, median_s: float, cv: float, n: int) -> np.ndarray:
    return lognormal_ms(rng, median_s, sigma_from_cv(cv), n, _CAP_S)


# --- click_bot -------------------------------------------------------------------------------
def click_bot_context(
    rng: np.random.Generator, n: int, catalog: Catalog, p: ClickBotParams
) -> dict[str, Any]:
    pool = catalog.advertised.reshape(-1)
    return {"targets": pool[rng.integers(0, pool.size, (n, max(p.n_targets, 1)))]}


def click_bot_cycles(
    rng: np.random.Generator,
    sess: np.ndarray,
    owner: np.ndarray,
    ctx: dict[str, Any],
    catalog: Catalog,
    p: ClickBotParams,
) -> Cycles:
    cs, _ = expand(_uniform(rng, p.events_per_session, sess.size))
    n = cs.size
    has_search = rng.random(n) < p.search_prob
    n_imp = np.minimum(rng.poisson(p.impressions_per_click, n), 10)
    targets = ctx["targets"]
    item = targets[owner[cs], rng.integers(0, targets.shape[1], n)]
    return Cycles(
        sess=sess[cs],
        counts=_counts(has_search, n_imp, 1, 0, 0, 0, n=n),
        item=item,
        cat=catalog.item_cat[item].astype(np.int64),
        tpos=_target_pos(rng, n_imp, 2),
        click_ad=rng.random(n) < p.ad_click_share,
        spons=np.ones(n, dtype=bool),
        gap=_main_gap(rng, p.interval_s, p.interval_cv, n),
        inner_median_s=(2.0, 0.5, 3.0, 1.0, 5.0, 5.0),
        inner_sigma=0.6,
    )


# --- click_farm ------------------------------------------------------------------------------
def click_farm_context(
    rng: np.random.Generator, n: int, catalog: Catalog, p: ClickFarmParams
) -> dict[str, Any]:
    """Split members into groups; each group boosts a few low-ranked items of one category."""
    lo, hi = max(p.group_size[0], 1), max(p.group_size[1], p.group_size[0], 1)
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(lo, hi + 1)))
    overshoot = sum(sizes) - n
    sizes[-1] -= overshoot
    if sizes[-1] < lo and len(sizes) > 1:
        sizes[-2] += sizes.pop()
    group_of = np.repeat(np.arange(len(sizes)), sizes)
    n_groups = len(sizes)
    group_cat = rng.integers(0, catalog.n_categories, n_groups)
    k = max(p.target_items, 1)
    half = catalog.per_category // 2  # a seller's items are not the popular ones
    ranks = half + rng.integers(0, catalog.per_category - half, (n_groups, k))
    targets = catalog.pop_order[group_cat[:, None], ranks]
    return {"group_of": group_of, "group_cat": group_cat, "targets": targets}


def click_farm_cycles(
    rng: np.random.Generator,
    sess: np.ndarray,
    owner: np.ndarray,
    ctx: dict[str, Any],
    catalog: Catalog,
    p: ClickFarmParams,
) -> Cycles:
    cs, _ = expand(_uniform(rng, p.cycles_per_session, sess.size))
    n = cs.size
    grp = ctx["group_of"][owner[cs]]
    gcat = ctx["group_cat"][grp]
    targets = ctx["targets"]
    off = rng.random(n) < p.off_target_prob
    n_imp = _uniform(rng, p.impressions, n)
    item = np.where(
        off, catalog.zipf_items(rng, gcat), targets[grp, rng.integers(0, targets.shape[1], n)]
    )
    atc = ~off & (rng.random(n) < p.add_to_cart_prob)
    purchase = atc & (rng.random(n) < p.purchase_prob)
    on = (~off).astype(np.int64)
    return Cycles(
        sess=sess[cs],
        counts=_counts(on, n_imp * on, on, 1, atc, purchase, n=n),
        item=item,
        cat=gcat,
        tpos=np.where(off, -1, rng.integers(n_imp // 2, n_imp)),  # found deep in the results
        click_ad=np.zeros(n, dtype=bool),
        spons=np.zeros(n, dtype=bool),
        gap=_main_gap(rng, p.interval_s, p.interval_cv, n),
        inner_median_s=(10.0, 0.4, 6.0, 1.0, 30.0, 45.0),
        inner_sigma=0.9,
    )


# --- scraper ---------------------------------------------------------------------------------
def scraper_context(
    rng: np.random.Generator, n: int, catalog: Catalog, p: ScraperParams
) -> dict[str, Any]:
    return {
        "start": rng.integers(0, catalog.n_items, n),
        "stride": rng.integers(1, max(p.max_stride, 1) + 1, n),
    }


def scraper_cycles(
    rng: np.random.Generator,
    sess: np.ndarray,
    owner: np.ndarray,
    ctx: dict[str, Any],
    catalog: Catalog,
    p: ScraperParams,
) -> Cycles:
    """Each session resumes the walk where the scraper's previous session stopped."""
    n_views = _uniform(rng, p.views_per_session, sess.size)
    first = np.r_[True, owner[1:] != owner[:-1]]
    csum = np.cumsum(n_views) - n_views
    done_before = csum - csum[np.maximum.accumulate(np.where(first, np.arange(owner.size), 0))]
    cs, k = expand(n_views)
    n = cs.size
    o = owner[cs]
    item = (ctx["start"][o] + (done_before[cs] + k) * ctx["stride"][o]) % catalog.n_items
    is_search = rng.random(n) < p.search_prob
    return Cycles(
        sess=sess[cs],
        counts=_counts(is_search, 0, 0, ~is_search, 0, 0, n=n),
        item=item,
        cat=catalog.item_cat[item].astype(np.int64),
        tpos=np.full(n, -1),
        click_ad=np.zeros(n, dtype=bool),
        spons=np.zeros(n, dtype=bool),
        gap=_main_gap(rng, p.interval_s, p.interval_cv, n),
        inner_median_s=(1.0, 0.3, 1.0, p.interval_s, 1.0, 1.0),
    )


# --- ad_click_spam ---------------------------------------------------------------------------
def ad_click_spam_context(
    rng: np.random.Generator, n: int, catalog: Catalog, p: AdClickSpamParams
) -> dict[str, Any]:
    pool = catalog.advertised.reshape(-1)
    return {"target": pool[rng.integers(0, pool.size, n)]}


def ad_click_spam_cycles(
    rng: np.random.Generator,
    sess: np.ndarray,
    owner: np.ndarray,
    ctx: dict[str, Any],
    catalog: Catalog,
    p: AdClickSpamParams,
) -> Cycles:
    cs, _ = expand(_uniform(rng, p.clicks_per_session, sess.size))
    n = cs.size
    has_search = rng.random(n) < p.search_prob
    n_imp = np.minimum(rng.poisson(p.impressions_per_click, n), 10)
    item = ctx["target"][owner[cs]]
    view = rng.random(n) < p.view_after_prob
    return Cycles(
        sess=sess[cs],
        counts=_counts(has_search, n_imp, 1, view, 0, 0, n=n),
        item=item,
        cat=catalog.item_cat[item].astype(np.int64),
        tpos=_target_pos(rng, n_imp, 2),
        click_ad=np.ones(n, dtype=bool),
        spons=np.ones(n, dtype=bool),
        gap=_main_gap(rng, p.interval_s, p.interval_cv, n),
        inner_median_s=(6.0, 0.4, 4.0, 1.0, 5.0, 5.0),
        inner_sigma=0.7,
    )


# --- brushing --------------------------------------------------------------------------------
def brushing_context(
    rng: np.random.Generator, n: int, catalog: Catalog, p: BrushingParams
) -> dict[str, Any]:
    cheap = catalog.items_below(p.cheap_quantile)
    return {"items": cheap[rng.integers(0, cheap.size, (n, max(p.items_per_brusher, 1)))]}


def brushing_cycles(
    rng: np.random.Generator,
    sess: np.ndarray,
    owner: np.ndarray,
    ctx: dict[str, Any],
    catalog: Catalog,
    p: BrushingParams,
) -> Cycles:
    cs, _ = expand(_uniform(rng, p.orders_per_session, sess.size))
    n = cs.size
    items = ctx["items"]
    item = items[owner[cs], rng.integers(0, items.shape[1], n)]
    view = rng.random(n) < p.view_before_prob
    atc = rng.random(n) < p.add_to_cart_prob
    return Cycles(
        sess=sess[cs],
        counts=_counts(0, 0, 0, view, atc, 1, n=n),
        item=item,
        cat=catalog.item_cat[item].astype(np.int64),
        tpos=np.full(n, -1),
        click_ad=np.zeros(n, dtype=bool),
        spons=np.zeros(n, dtype=bool),
        gap=_main_gap(rng, p.interval_s, p.interval_cv, n),
        inner_median_s=(1.0, 1.0, 1.0, 2.0, 6.0, 5.0),
    )


# --- account_takeover ------------------------------------------------------------------------
def account_takeover_context(
    rng: np.random.Generator, n: int, catalog: Catalog, p: AccountTakeoverParams
) -> dict[str, Any]:
    return {"high_value": catalog.items_above(p.high_value_quantile)}


def account_takeover_cycles(
    rng: np.random.Generator,
    sess: np.ndarray,
    owner: np.ndarray,
    ctx: dict[str, Any],
    catalog: Catalog,
    p: AccountTakeoverParams,
) -> Cycles:
    """A few quick views, then add-to-cart and purchase of high-value items."""
    n_browse = _uniform(rng, p.browse_events, sess.size, low=0)
    n_buy = _uniform(rng, p.purchases_per_session, sess.size)
    cs, k = expand(n_browse + n_buy)
    n = cs.size
    browse = k < n_browse[cs]
    high = ctx["high_value"]
    random_cat = rng.integers(0, catalog.n_categories, n)
    item = np.where(
        browse, catalog.zipf_items(rng, random_cat), high[rng.integers(0, high.size, n)]
    )
    view = browse | (rng.random(n) < 0.5)
    buy = (~browse).astype(np.int64)
    return Cycles(
        sess=sess[cs],
        counts=_counts(0, 0, 0, view, buy, buy, n=n),
        item=item,
        cat=catalog.item_cat[item].astype(np.int64),
        tpos=np.full(n, -1),
        click_ad=np.zeros(n, dtype=bool),
        spons=np.zeros(n, dtype=bool),
        gap=_main_gap(rng, p.interval_s, p.interval_cv, n),
        inner_median_s=(1.0, 1.0, 1.0, 2.0, 8.0, 10.0),
        inner_sigma=0.6,
    )


CONTEXTS = {
    "click_bot": click_bot_context,
    "click_farm": click_farm_context,
    "scraper": scraper_context,
    "ad_click_spam": ad_click_spam_context,
    "brushing": brushing_context,
    "account_takeover": account_takeover_context,
}
CYCLES = {
    "click_bot": click_bot_cycles,
    "click_farm": click_farm_cycles,
    "scraper": scraper_cycles,
    "ad_click_spam": ad_click_spam_cycles,
    "brushing": brushing_cycles,
    "account_takeover": account_takeover_cycles,
}
