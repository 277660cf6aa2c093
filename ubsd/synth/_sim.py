"""Vectorized behavior simulation: normal browsing as a Markov chain, fraud as scripted cycles.

Every simulator returns a :class:`Block` of events keyed by global session id, with each event's
offset (ms) from its session's start. Sessions are placed in time afterwards
(``place_sessions``), once their durations are known, so that one user's sessions never overlap.
All loops run over steps or fraud types, never over events or sessions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np

from ubsd.synth._world import Catalog
from ubsd.synth.profiles import NormalParams

#: Event types, in the contract's order (``ubsd.io.schemas.KNOWN_EVENT_TYPES``).
EVENT_TYPES: tuple[str, ...] = (
    "search",
    "impression",
    "view",
    "click",
    "ad_click",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
)
SEARCH, IMPRESSION, VIEW, CLICK, AD_CLICK, ADD_TO_CART, REMOVE_FROM_CART, PURCHASE = range(8)

# Markov states of a normal session (see NormalParams); END is the transition matrix's last column.
_M_SEARCH, _M_IMPRESSION, _M_VIEW, _M_CLICK, _M_ATC, _M_RFC, _M_PURCHASE, _M_END = range(8)
_STATE_ET = np.array([SEARCH, IMPRESSION, VIEW, CLICK, ADD_TO_CART, REMOVE_FROM_CART, PURCHASE])
_MAX_POSITIONS = 24


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of the given sizes: each element's segment and its index inside it."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def sigma_from_cv(cv: float) -> float:
    """The log-normal sigma whose coefficient of variation is ``cv``."""
    return float(np.sqrt(np.log1p(cv * cv)))


def lognormal_ms(
    rng: np.random.Generator, median_s: np.ndarray | float, sigma: float, size: int, cap_s: float
) -> np.ndarray:
    """Log-normal durations in whole milliseconds, at least 1 ms and at most ``cap_s``."""
    s = np.asarray(median_s, dtype=np.float64) * np.exp(sigma * rng.standard_normal(size))
    return np.clip(np.rint(s * 1000.0), 1, cap_s * 1000.0).astype(np.int32)


#: Storage type of each Block field (narrow, to keep memory traffic low).
_BLOCK_DTYPES = {
    "sess": np.int64,
    "t": np.int64,
    "etype": np.int8,
    "item": np.int32,
    "pos": np.int16,
    "spons": np.int8,
    "query": np.int32,
}


@dataclass
class Block:
    """Events of some sessions, in no particular order."""

    sess: np.ndarray  # global session id
    t: np.ndarray  # ms since the session's start (strictly increasing within a session)
    etype: np.ndarray
    item: np.ndarray  # -1: none
    pos: np.ndarray  # 0: none
    spons: np.ndarray  # -1: none, 0/1
    query: np.ndarray  # -1: none

    @classmethod
    def empty(cls) -> Block:
        return cls(*(np.zeros(0, dtype=_BLOCK_DTYPES[f.name]) for f in fields(cls)))

    @classmethod
    def concat(cls, blocks: list[Block]) -> Block:
        blocks = [b for b in blocks if b.sess.size] or [cls.empty()]
        return cls(
            *(
                np.concatenate(
                    [getattr(b, f.name) for b in blocks],
                    dtype=_BLOCK_DTYPES[f.name],
                    casting="same_kind",
                )
                for f in fields(cls)
            )
        )

    def take(self, idx: np.ndarray) -> Block:
        return Block(*(getattr(self, f.name)[idx] for f in fields(self)))


_BINS = 1 << 16


def _inverse_cdf(probs: np.ndarray) -> np.ndarray:
    """Per row, the state drawn by each of ``_BINS`` equal slices of [0, 1): sampling is then a
    single lookup (probabilities are rounded to 1/65536)."""
    return _inverse_cdf_cached(tuple(map(tuple, probs.tolist())))


@functools.lru_cache(maxsize=16)
def _inverse_cdf_cached(rows: tuple[tuple[float, ...], ...]) -> np.ndarray:
    probs = np.asarray(rows, dtype=np.float64)
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    mid = (np.arange(_BINS) + 0.5) / _BINS
    table = np.stack([np.searchsorted(row, mid, side="right") for row in cdf])
    return np.minimum(table, probs.shape[1] - 1).astype(np.int64)


# Context bits of a live session, so that impossible moves are redirected with one lookup.
_HAS_QUERY, _SHOWN, _FULL, _CART, _ITEM = 1, 2, 4, 8, 16


def _fix_table() -> np.ndarray:
    """Redirect table [context, drawn state] -> state actually taken."""
    table = np.zeros((32, 8), dtype=np.int64)
    for ctx in range(32):
        for drawn in range(8):
            s = drawn
            if s == _M_IMPRESSION and not ctx & _HAS_QUERY:
                s = _M_SEARCH  # results need a search first
            if s == _M_IMPRESSION and ctx & _FULL:
                s = _M_CLICK
            if s == _M_CLICK and not ctx & _SHOWN:
                s = _M_VIEW  # nothing to click on
            if s == _M_PURCHASE and not ctx & _CART:
                s = _M_ATC
            if s == _M_ATC and not ctx & _ITEM:
                s = _M_VIEW
            if s == _M_RFC and not ctx & _CART:
                s = _M_VIEW
            table[ctx, drawn] = s
    return table


_FIX = _fix_table()


def simulate_markov(
    rng: np.random.Generator,
    sess: np.ndarray,
    fav: np.ndarray,
    speed: np.ndarray,
    max_events: np.ndarray,
    catalog: Catalog,
    p: NormalParams,
) -> Block:
    """Normal shopping sessions, one Markov step for all live sessions at a time.

    ``fav`` (sessions x k) are the user's favourite categories, ``speed`` multiplies dwell.
    Impossible moves are redirected (a click with no results shown becomes a view, a purchase
    with an empty cart an add_to_cart, ...), so funnels stay coherent.
    """
    n = sess.size
    if n == 0:
        return Block.empty()
    next_state = _inverse_cdf(np.asarray(p.transitions, dtype=np.float64))
    first_state = _inverse_cdf(np.asarray([[*p.start_probs, 0.0]], dtype=np.float64))[0]
    # median gap by (previous state or 7 = none, state)
    med = np.tile(np.asarray([*p.dwell_median_s, 0.0], dtype=np.float64), (8, 1))
    med[_M_IMPRESSION, _M_IMPRESSION] = p.impression_burst_median_s
    med[_M_CLICK, _M_VIEW] = p.view_after_click_median_s
    k_fav = fav.shape[1]
    fav_cdf = np.cumsum(0.5 ** np.arange(k_fav))
    fav_cdf /= fav_cdf[-1]
    shown_items = np.full((n, _MAX_POSITIONS), -1, dtype=np.int32)
    shown_spons = np.zeros((n, _MAX_POSITIONS), dtype=bool)
    n_shown = np.zeros(n, dtype=np.int64)
    cat = fav[np.arange(n), rng.integers(0, k_fav, n)].astype(np.int64)
    query = np.full(n, -1, dtype=np.int64)
    item = np.full(n, -1, dtype=np.int64)
    cart_item = np.full(n, -1, dtype=np.int64)
    cart_n = np.zeros(n, dtype=np.int64)
    ctx = np.zeros(n, dtype=np.int64)
    prev = np.full(n, 7, dtype=np.int64)
    clock = np.zeros(n, dtype=np.int64)
    a = np.arange(n)
    shortest = int(max_events.min())
    parts: list[tuple[np.ndarray, ...]] = []
    for step in range(int(max_events.max())):
        u = rng.integers(0, _BINS, a.size)
        s = _FIX[ctx[a], first_state[u] if step == 0 else next_state[prev[a], u]]
        keep = s != _M_END
        if step >= shortest:
            keep &= max_events[a] > step
        s = s[keep].astype(np.int8)
        if s.size == 0:
            break
        # group live sessions by state: each handler then works on one contiguous slice
        order = np.argsort(s, kind="stable")
        a, s = a[keep][order], s[order]
        bounds = np.r_[0, np.cumsum(np.bincount(s, minlength=8))]
        pv = prev[a]
        m_count = a.size
        et = _STATE_ET[s].astype(np.int8)
        ev_item = np.full(m_count, -1, dtype=np.int32)
        ev_pos = np.zeros(m_count, dtype=np.int16)
        ev_spons = np.full(m_count, -1, dtype=np.int8)
        ev_query = np.full(m_count, -1, dtype=np.int32)

        def part(state: int, bounds: np.ndarray = bounds) -> slice | None:
            lo, hi = int(bounds[state]), int(bounds[state + 1])
            return slice(lo, hi) if hi > lo else None

        if (m := part(_M_SEARCH)) is not None:
            idx, k = a[m], m.stop - m.start
            pick = np.minimum(np.searchsorted(fav_cdf, rng.random(k), side="right"), k_fav - 1)
            c = fav[idx, pick].astype(np.int64)
            explore = rng.random(k) < p.explore_prob
            c = np.where(explore, rng.integers(0, catalog.n_categories, k), c)
            q = catalog.queries(rng, c)
            cat[idx], query[idx], n_shown[idx] = c, q, 0
            ctx[idx] = (ctx[idx] | _HAS_QUERY) & ~(_SHOWN | _FULL)
            ev_query[m] = q
        if (m := part(_M_IMPRESSION)) is not None:
            idx, k = a[m], m.stop - m.start
            pos = n_shown[idx] + 1
            sp = rng.random(k) < np.where(pos <= 2, p.sponsored_top_prob, p.sponsored_other_prob)
            c = cat[idx]
            it = np.where(sp, catalog.sponsored_items(rng, c), catalog.zipf_items(rng, c))
            shown_items[idx, pos - 1] = it
            shown_spons[idx, pos - 1] = sp
            n_shown[idx] = pos
            ctx[idx] |= np.where(pos >= _MAX_POSITIONS, _SHOWN | _FULL, _SHOWN)
            ev_item[m], ev_pos[m], ev_spons[m], ev_query[m] = it, pos, sp, query[idx]
        if (m := part(_M_CLICK)) is not None:
            idx, k = a[m], m.stop - m.start
            pos = 1 + np.floor(n_shown[idx] * rng.random(k) ** 2).astype(np.int64)
            it = shown_items[idx, pos - 1]
            sp = shown_spons[idx, pos - 1]
            et[m] = np.where(sp & (rng.random(k) < p.sponsored_click_is_ad_prob), AD_CLICK, CLICK)
            item[idx], cat[idx] = it, catalog.item_cat[it]
            ctx[idx] |= _ITEM
            ev_item[m], ev_pos[m], ev_spons[m], ev_query[m] = it, pos, sp, query[idx]
        if (m := part(_M_VIEW)) is not None:
            idx = a[m]
            it = np.where(pv[m] == _M_CLICK, item[idx], catalog.zipf_items(rng, cat[idx]))
            item[idx] = it
            ctx[idx] |= _ITEM
            ev_item[m] = it
        if (m := part(_M_ATC)) is not None:
            idx = a[m]
            cart_item[idx] = item[idx]
            cart_n[idx] += 1
            ctx[idx] |= _CART
            ev_item[m] = item[idx]
        if (m := part(_M_RFC)) is not None:
            idx = a[m]
            cart_n[idx] -= 1
            ctx[idx] = np.where(cart_n[idx] > 0, ctx[idx], ctx[idx] & ~_CART)
            ev_item[m] = cart_item[idx]
        if (m := part(_M_PURCHASE)) is not None:
            idx = a[m]
            cart_n[idx] = 0
            ctx[idx] &= ~_CART
            ev_item[m] = cart_item[idx]

        if step:
            clock[a] += lognormal_ms(
                rng, med[pv, s] * speed[a], p.dwell_sigma, m_count, p.max_dwell_s
            )
        prev[a] = s
        parts.append((a, clock[a], et, ev_item, ev_pos, ev_spons, ev_query))
    if not parts:
        return Block.empty()
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    return Block(
        sess=sess[cols[0]],
        t=cols[1],
        etype=cols[2],
        item=cols[3],
        pos=cols[4],
        spons=cols[5],
        query=cols[6],
    )


# --- scripted cycles -------------------------------------------------------------------------
#: Slots of a scripted cycle, always in this order; a cycle holds 0/1 of each (impressions: k).
_SLOT_ET = np.array([SEARCH, IMPRESSION, CLICK, VIEW, ADD_TO_CART, PURCHASE])


@dataclass
class Cycles:
    """One row per scripted cycle; rows of one session are contiguous and in order."""

    sess: np.ndarray  # global session id
    counts: np.ndarray  # (cycles, 6): search, impressions, click, view, add_to_cart, purchase
    item: np.ndarray  # the target of click / view / add_to_cart / purchase
    cat: np.ndarray  # category of the search and of filler impressions
    tpos: np.ndarray  # index of the target among the impressions; -1: not shown
    click_ad: np.ndarray  # the click is an ad_click
    spons: np.ndarray  # the target listing is sponsored
    gap: np.ndarray  # ms before the cycle's first event
    inner_median_s: tuple[float, ...]  # per slot: median gap when not first in the cycle
    inner_sigma: float = 0.5


def run_cycles(
    rng: np.random.Generator,
    cy: Cycles,
    catalog: Catalog,
    p: NormalParams,
    after: np.ndarray | None = None,
) -> Block:
    """Expand scripted cycles into events (the common engine of every fraud type).

    ``after`` (by global session id, -1 for none) is the offset of an earlier part of the
    session (a browsing prefix): the script then continues from there after its first gap.
    """
    total = cy.counts.sum(axis=1)
    cyc, j = expand(total)
    if cyc.size == 0:
        return Block.empty()
    cum = np.cumsum(cy.counts, axis=1)
    slot = (j[:, None] >= cum[cyc]).sum(axis=1)
    et = _SLOT_ET[slot]
    et = np.where((slot == 2) & cy.click_ad[cyc], AD_CLICK, et)
    imp_idx = j - cy.counts[cyc, 0]
    is_imp = slot == 1
    target_imp = is_imp & (imp_idx == cy.tpos[cyc])
    filler = is_imp & ~target_imp
    item = np.where(slot == 0, -1, cy.item[cyc])
    pos = np.zeros(cyc.size, dtype=np.int64)
    spons = np.full(cyc.size, -1, dtype=np.int64)
    if filler.any():
        k = int(filler.sum())
        fpos = imp_idx[filler] + 1
        sp = rng.random(k) < np.where(fpos <= 2, p.sponsored_top_prob, p.sponsored_other_prob)
        c = cy.cat[cyc[filler]]
        item[filler] = np.where(sp, catalog.sponsored_items(rng, c), catalog.zipf_items(rng, c))
        spons[filler] = sp
    pos[is_imp] = imp_idx[is_imp] + 1
    spons[target_imp] = cy.spons[cyc[target_imp]]
    is_click = slot == 2
    click_pos = np.where(cy.tpos >= 0, cy.tpos + 1, rng.integers(1, 4, cy.tpos.size))
    pos[is_click] = click_pos[cyc[is_click]]
    spons[is_click] = cy.spons[cyc[is_click]]
    cyc_query = np.where(cy.counts[:, 0] > 0, catalog.queries(rng, cy.cat), -1)
    query = np.where(slot <= 2, cyc_query[cyc], -1)
    inner = np.asarray(cy.inner_median_s, dtype=np.float64)[slot]
    gap = np.where(j == 0, cy.gap[cyc], lognormal_ms(rng, inner, cy.inner_sigma, cyc.size, 1200.0))
    ev_sess = cy.sess[cyc]
    first = np.r_[True, ev_sess[1:] != ev_sess[:-1]]
    start = -1 if after is None else after[ev_sess]
    gap = np.where(first, np.where(start >= 0, start + gap, 0), gap).astype(np.int64)
    head = np.maximum.accumulate(np.where(first, np.arange(gap.size), 0))
    csum = np.cumsum(gap)
    t = csum - csum[head] + gap[head]  # sum of the session's gaps up to each event
    return Block(sess=ev_sess, t=t, etype=et, item=item, pos=pos, spons=spons, query=query)


def place_sessions(
    user: np.ndarray, desired: np.ndarray, duration: np.ndarray, min_gap_ms: int
) -> np.ndarray:
    """Start times as close to ``desired`` as possible with a user's sessions never overlapping.

    Sessions of a user are kept in desired order, each starting no earlier than the previous
    one's end plus ``min_gap_ms``: start_k = c_k + max_{j<=k}(desired_j - c_j), where c_k sums
    the previous durations and gaps; the running max restarts per user via a per-user offset.
    """
    order = np.lexsort((desired, user))
    u, d, dur = user[order], desired[order], duration[order] + min_gap_ms
    first = np.r_[True, u[1:] != u[:-1]]
    grp = np.cumsum(first) - 1
    csum = np.cumsum(dur) - dur
    c = csum - csum[first][grp]
    v_raw = d - c
    v_min = int(v_raw.min())
    v = v_raw - v_min
    big = int(v.max()) + 1
    run = np.maximum.accumulate(v + grp * big) - grp * big
    start = np.empty_like(desired)
    start[order] = c + run + v_min
    return start
