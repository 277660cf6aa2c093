"""Vectorized behavior simulation: normal browsing as a Markov chain, fraud as scripted cycles.

Every simulator returns a :class:`Block` of events keyed by global session id and an in-session
sequence number, with the gap (ms) before each event. Sessions are placed in time afterwards
(``place_sessions``), once their durations are known, so that one user's sessions never overlap.
All loops run over steps or fraud types, never over events or sessions.
"""

from __future__ import annotations

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
#: In-session sequence numbers of scripted attack events start here, after any browsing prefix.
ATTACK_SEQ_BASE = 1000


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
    return np.clip(np.rint(s * 1000.0), 1, cap_s * 1000.0).astype(np.int64)


@dataclass
class Block:
    """Events of some sessions, in no particular order."""

    sess: np.ndarray  # global session id
    seq: np.ndarray  # order inside the session
    gap: np.ndarray  # ms since the session's previous event (ignored for its first)
    etype: np.ndarray
    item: np.ndarray  # -1: none
    pos: np.ndarray  # 0: none
    spons: np.ndarray  # -1: none, 0/1
    query: np.ndarray  # -1: none

    @classmethod
    def empty(cls) -> Block:
        return cls(*(np.zeros(0, dtype=np.int64) for _ in fields(cls)))

    @classmethod
    def concat(cls, blocks: list[Block]) -> Block:
        blocks = [b for b in blocks if b.sess.size] or [cls.empty()]
        return cls(
            *(np.concatenate([getattr(b, f.name) for b in blocks]) for f in fields(cls))
        )

    def take(self, idx: np.ndarray) -> Block:
        return Block(*(getattr(self, f.name)[idx] for f in fields(self)))


def simulate_markov(
    rng: np.random.Generator,
    sess: np.ndarray,
    fav: np.ndarray,
    speed: np.ndarray,
    max_events: np.ndarray,
    catalog: Catalog,
    p: NormalParams,
    seq_base: int = 0,
) -> Block:
    """Normal shopping sessions, one Markov step for all live sessions at a time.

    ``fav`` (sessions x k) are the user's favourite categories, ``speed`` multiplies dwell.
    Impossible moves are redirected (a click with no results shown becomes a view, a purchase
    with an empty cart an add_to_cart, ...), so funnels stay coherent.
    """
    n = sess.size
    if n == 0:
        return Block.empty()
    cum = np.cumsum(np.asarray(p.transitions, dtype=np.float64), axis=1)
    cum[:, -1] = np.inf
    start_cdf = np.cumsum(np.asarray(p.start_probs, dtype=np.float64))
    start_cdf[-1] = np.inf
    med = np.asarray(p.dwell_median_s, dtype=np.float64)
    k_fav = fav.shape[1]
    fav_cdf = np.cumsum(0.5 ** np.arange(k_fav))
    fav_cdf /= fav_cdf[-1]
    shown_items = np.full((n, _MAX_POSITIONS), -1, dtype=np.int64)
    shown_spons = np.zeros((n, _MAX_POSITIONS), dtype=bool)
    n_shown = np.zeros(n, dtype=np.int64)
    cat = fav[np.arange(n), rng.integers(0, k_fav, n)].astype(np.int64)
    query = np.full(n, -1, dtype=np.int64)
    item = np.full(n, -1, dtype=np.int64)
    cart_item = np.full(n, -1, dtype=np.int64)
    cart_n = np.zeros(n, dtype=np.int64)
    prev = np.full(n, -1, dtype=np.int64)
    a = np.arange(n)
    parts: list[tuple[np.ndarray, ...]] = []
    for step in range(int(max_events.max())):
        u = rng.random(a.size)
        if step == 0:
            s = (u[:, None] >= start_cdf[None, :]).sum(axis=1)
        else:
            s = (u[:, None] >= cum[prev[a]]).sum(axis=1)
        s = np.where((s == _M_IMPRESSION) & (query[a] < 0), _M_SEARCH, s)
        s = np.where((s == _M_IMPRESSION) & (n_shown[a] >= _MAX_POSITIONS), _M_CLICK, s)
        s = np.where((s == _M_CLICK) & (n_shown[a] == 0), _M_VIEW, s)
        s = np.where((s == _M_PURCHASE) & (cart_n[a] == 0), _M_ATC, s)
        s = np.where((s == _M_ATC) & (item[a] < 0), _M_VIEW, s)
        s = np.where((s == _M_RFC) & (cart_n[a] == 0), _M_VIEW, s)
        keep = (s != _M_END) & (step < max_events[a])
        a, s = a[keep], s[keep]
        if a.size == 0:
            break
        pv = prev[a]
        m_count = a.size
        et = _STATE_ET[s]
        ev_item = np.full(m_count, -1, dtype=np.int64)
        ev_pos = np.zeros(m_count, dtype=np.int64)
        ev_spons = np.full(m_count, -1, dtype=np.int64)
        ev_query = np.full(m_count, -1, dtype=np.int64)

        m = s == _M_SEARCH
        if m.any():
            idx, k = a[m], int(m.sum())
            pick = np.minimum(np.searchsorted(fav_cdf, rng.random(k), side="right"), k_fav - 1)
            c = fav[idx, pick].astype(np.int64)
            explore = rng.random(k) < p.explore_prob
            c = np.where(explore, rng.integers(0, catalog.n_categories, k), c)
            q = catalog.queries(rng, c)
            cat[idx], query[idx], n_shown[idx] = c, q, 0
            ev_query[m] = q
        m = s == _M_IMPRESSION
        if m.any():
            idx, k = a[m], int(m.sum())
            pos = n_shown[idx] + 1
            sp = rng.random(k) < np.where(pos <= 2, p.sponsored_top_prob, p.sponsored_other_prob)
            c = cat[idx]
            it = np.where(sp, catalog.sponsored_items(rng, c), catalog.zipf_items(rng, c))
            shown_items[idx, pos - 1] = it
            shown_spons[idx, pos - 1] = sp
            n_shown[idx] = pos
            ev_item[m], ev_pos[m], ev_spons[m], ev_query[m] = it, pos, sp, query[idx]
        m = s == _M_CLICK
        if m.any():
            idx, k = a[m], int(m.sum())
            pos = 1 + np.floor(n_shown[idx] * rng.random(k) ** 2).astype(np.int64)
            it = shown_items[idx, pos - 1]
            sp = shown_spons[idx, pos - 1]
            et[m] = np.where(sp & (rng.random(k) < p.sponsored_click_is_ad_prob), AD_CLICK, CLICK)
            item[idx], cat[idx] = it, catalog.item_cat[it]
            ev_item[m], ev_pos[m], ev_spons[m], ev_query[m] = it, pos, sp, query[idx]
        m = s == _M_VIEW
        if m.any():
            idx = a[m]
            it = np.where(pv[m] == _M_CLICK, item[idx], catalog.zipf_items(rng, cat[idx]))
            item[idx] = it
            ev_item[m] = it
        m = s == _M_ATC
        if m.any():
            idx = a[m]
            cart_item[idx] = item[idx]
            cart_n[idx] += 1
            ev_item[m] = item[idx]
        m = s == _M_RFC
        if m.any():
            idx = a[m]
            cart_n[idx] -= 1
            ev_item[m] = cart_item[idx]
        m = s == _M_PURCHASE
        if m.any():
            idx = a[m]
            cart_n[idx] = 0
            ev_item[m] = cart_item[idx]

        gm = med[s]
        gm = np.where((s == _M_IMPRESSION) & (pv == _M_IMPRESSION), p.impression_burst_median_s, gm)
        gm = np.where((s == _M_VIEW) & (pv == _M_CLICK), p.view_after_click_median_s, gm)
        gap = lognormal_ms(rng, gm * speed[a], p.dwell_sigma, m_count, p.max_dwell_s)
        prev[a] = s
        parts.append((a, np.full(m_count, step), gap, et, ev_item, ev_pos, ev_spons, ev_query))
    if not parts:
        return Block.empty()
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    return Block(
        sess=sess[cols[0]], seq=cols[1] + seq_base, gap=cols[2], etype=cols[3], item=cols[4],
        pos=cols[5], spons=cols[6], query=cols[7],
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
    rng: np.random.Generator, cy: Cycles, catalog: Catalog, p: NormalParams,
    seq_base: int = ATTACK_SEQ_BASE,
) -> Block:
    """Expand scripted cycles into events (the common engine of every fraud type)."""
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
    gap = np.where(
        j == 0, cy.gap[cyc], lognormal_ms(rng, inner, cy.inner_sigma, cyc.size, 1200.0)
    )
    ev_sess = cy.sess[cyc]
    first = np.r_[True, ev_sess[1:] != ev_sess[:-1]]
    start_idx = np.maximum.accumulate(np.where(first, np.arange(ev_sess.size), 0))
    seq = seq_base + np.arange(ev_sess.size) - start_idx
    return Block(
        sess=ev_sess, seq=seq, gap=gap, etype=et, item=item, pos=pos, spons=spons, query=query
    )


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
