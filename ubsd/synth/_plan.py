"""Plan who is active when, simulate every session, and place the events on the timeline."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ubsd.synth import _fraud
from ubsd.synth._sim import (
    AD_CLICK,
    CLICK,
    VIEW,
    Block,
    place_sessions,
    run_cycles,
    simulate_markov,
)
from ubsd.synth._text import MS_PER_DAY
from ubsd.synth._world import (
    CHANNELS,
    UA_RANGE,
    Catalog,
    Users,
    build_catalog,
    build_users,
    digit_ids,
    hours_from_curve,
    random_ips,
    random_keys,
)
from ubsd.synth.profiles import (
    FRAUD_TYPES,
    AccountTakeoverParams,
    ClickBotParams,
    ClickFarmParams,
    Profile,
    ScraperParams,
)

#: Independent random streams, so that e.g. a change in one fraud type's parameters leaves the
#: other types' events as they were.
_STREAMS = ("catalog", "users", "plan", "normal", "identity", "extras", "inject", *FRAUD_TYPES)
_ATO = FRAUD_TYPES.index("account_takeover") + 1
_MARKOV_CHUNK = 16_384  # normal sessions simulated per task
_THREADS = min(4, os.cpu_count() or 1)
_WEB = CHANNELS.index("web")


def fraud_allocation(profile: Profile) -> dict[str, int]:
    """How many users of the pool each fraud type gets.

    ``round(fraud_prevalence * n_users)`` split by ``fraud_mix`` (largest remainders), raised to
    ``min_users_per_type`` per type when set, and a click farm to at least one full group.
    Account takeover needs an earlier day of normal history, so it is absent from 1-day runs.

    >>> from ubsd.synth.profiles import get_profile
    >>> fraud_allocation(get_profile("benchmark-v1"))["click_bot"]
    12
    """
    mix = dict(profile.fraud_mix)
    weights = np.array([max(float(mix.get(t, 0.0)), 0.0) for t in FRAUD_TYPES])
    if profile.days < 2:
        weights[FRAUD_TYPES.index("account_takeover")] = 0.0
    total = round(profile.fraud_prevalence * profile.n_users)
    counts = np.zeros(len(FRAUD_TYPES), dtype=np.int64)
    if weights.sum() > 0 and total > 0:
        raw = total * weights / weights.sum()
        counts = np.floor(raw).astype(np.int64)
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[: total - int(counts.sum())]] += 1
    if profile.min_users_per_type > 0:
        counts = np.where(weights > 0, np.maximum(counts, profile.min_users_per_type), 0)
    farm = FRAUD_TYPES.index("click_farm")
    if counts[farm] > 0:
        counts[farm] = max(counts[farm], profile.click_farm.group_size[0])
    if counts.sum() > profile.n_users:
        raise ValueError(f"profile {profile.name!r} has more fraud users than users")
    return {t: int(c) for t, c in zip(FRAUD_TYPES, counts, strict=True)}


@dataclass
class Simulation:
    """All well-formed events, sorted by time, plus per-session identity and lookup tables."""

    ts: np.ndarray
    user: np.ndarray
    etype: np.ndarray
    item: np.ndarray
    pos: np.ndarray
    spons: np.ndarray
    query: np.ndarray
    sess: np.ndarray
    kind: np.ndarray  # 0: normal, else 1 + index in FRAUD_TYPES
    s_device: np.ndarray
    s_ip: np.ndarray
    s_ua: np.ndarray
    s_channel: np.ndarray
    user_ids: pa.Array
    catalog: Catalog
    start_ms: int
    days: int
    n_pool_users: int


class _Sessions:
    """Accumulates planned sessions; ids are assigned in the order they are added."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.n = 0

    def add(self, **cols: np.ndarray) -> np.ndarray:
        k = cols["user"].size
        self.parts.append(cols)
        ids = np.arange(self.n, self.n + k)
        self.n += k
        return ids

    def column(self, name: str) -> np.ndarray:
        return np.concatenate([p[name] for p in self.parts])


def _identity(
    users: Users, user: np.ndarray, day: np.ndarray, roam: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The user's own device/IP/UA/channel on that day, with rare legitimate changes."""
    changed = day >= users.change_day[user]
    ip = np.where(rng.random(user.size) < roam, random_ips(rng, user.size), users.home_ip[user])
    return {
        "device": np.where(changed, users.device_new[user], users.device[user]),
        "ip": ip.astype(np.uint32),
        "ua": np.where(changed, users.ua_new[user], users.ua[user]).astype(np.int64),
        "channel": users.channel[user].astype(np.int64),
    }


def _sessions_from_matrix(counts: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user, day) of each session for a users x days matrix of session counts."""
    flat = counts.reshape(-1)
    cell = np.repeat(np.arange(flat.size), flat)
    days = counts.shape[1]
    return rows[cell // days], cell % days


def _active_days(rng: np.random.Generator, n: int, days: int, frac: float) -> np.ndarray:
    act = rng.random((n, days)) < frac
    none = ~act.any(axis=1)
    act[np.flatnonzero(none), rng.integers(0, days, int(none.sum()))] = True
    return act


def _per_day(rng: np.random.Generator, active: np.ndarray, mean: float) -> np.ndarray:
    return np.where(active, 1 + rng.poisson(max(mean - 1.0, 0.0), active.shape), 0)


def simulate(profile: Profile, heavy_user_events: int = 0, singleton_users: int = 0) -> Simulation:
    """Simulate the whole period in memory (no I/O)."""
    seeds = np.random.SeedSequence([int(profile.seed), 0x5EED]).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    catalog = build_catalog(rng["catalog"], profile)
    users = build_users(rng["users"], profile, catalog)
    n_days = profile.days
    start_ms = int(np.datetime64(profile.start_date, "ms").astype(np.int64))
    day_ms = start_ms + np.arange(n_days, dtype=np.int64) * MS_PER_DAY
    np_ = profile.normal
    plan, ident = rng["plan"], rng["identity"]

    alloc = fraud_allocation(profile)
    perm = plan.permutation(users.n)
    members: dict[str, np.ndarray] = {}
    user_kind = np.zeros(users.n, dtype=np.int64)
    taken = 0
    for code, t in enumerate(FRAUD_TYPES, start=1):
        members[t] = np.sort(perm[taken : taken + alloc[t]])
        user_kind[members[t]] = code
        taken += alloc[t]

    sessions = _Sessions()

    def add_normal(user: np.ndarray, day: np.ndarray) -> None:
        desired = day_ms[day] + hours_from_curve(plan, user.size)
        sessions.add(
            user=user,
            day=day,
            kind=np.zeros(user.size, dtype=np.int64),
            desired=desired,
            **_identity(users, user, day, np_.ip_roam_prob, ident),
        )

    # normal users, and takeover victims before their takeover day
    shoppers = np.flatnonzero((user_kind == 0) | (user_kind == _ATO))
    n_sess = _per_day(
        plan,
        plan.random((shoppers.size, n_days)) < users.activity[shoppers, None],
        profile.sessions_per_day,
    )
    victims = members["account_takeover"]
    takeover_day = plan.integers(1, max(n_days, 2), victims.size)
    if victims.size:
        rows = np.searchsorted(shoppers, victims)
        after = np.arange(n_days)[None, :] >= takeover_day[:, None]
        sub = np.where(after, 0, n_sess[rows])
        idle = sub.sum(axis=1) == 0
        sub[np.flatnonzero(idle), plan.integers(0, takeover_day[idle])] = 1
        n_sess[rows] = sub
    add_normal(*_sessions_from_matrix(n_sess, shoppers))

    attack: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # type -> (session ids, owner index)
    contexts: dict[str, dict[str, np.ndarray]] = {}
    for code, t in enumerate(FRAUD_TYPES, start=1):
        m = members[t]
        if m.size == 0:
            continue
        p = profile.fraud_params(t)
        trng = rng[t]
        ctx = _fraud.CONTEXTS[t](trng, m.size, catalog, p)
        contexts[t] = ctx
        if t == "account_takeover":
            later = np.arange(n_days)[None, :] > takeover_day[:, None]
            active = (np.arange(n_days)[None, :] == takeover_day[:, None]) | (
                later & (plan.random((m.size, n_days)) < p.active_day_fraction)
            )
        else:
            active = _active_days(plan, m.size, n_days, p.active_day_fraction)
            cover = np.where(active, plan.poisson(p.cover_sessions_per_day, active.shape), 0)
            add_normal(*_sessions_from_matrix(cover, m))
        n_att = _per_day(plan, active, p.sessions_per_day)
        local, day = _sessions_from_matrix(n_att, np.arange(m.size))
        user = m[local]
        k = user.size
        if isinstance(p, ClickFarmParams):
            groups = ctx["group_of"]
            n_groups = int(groups.max()) + 1
            window = hours_from_curve(plan, n_groups * n_days).reshape(n_groups, n_days)
            jitter = plan.integers(0, max(int(p.window_minutes * 60_000), 1), k)
            desired = day_ms[day] + window[groups[local], day] + jitter
        else:
            desired = day_ms[day] + hours_from_curve(plan, k, p.uniform_hours)
        idn = _identity(users, user, day, np_.ip_roam_prob, ident)
        if isinstance(p, (ClickBotParams, ScraperParams)):
            headless = (ident.random(m.size) < p.headless_ua_prob)[local]
            lo, hi = UA_RANGE["headless"]
            idn["ua"] = np.where(headless, lo + ident.integers(0, hi - lo, k), idn["ua"])
            idn["channel"] = np.where(headless, _WEB, idn["channel"])
        if isinstance(p, ClickBotParams):
            rotate = ident.random(k) < p.rotate_ip_prob
            idn["ip"] = np.where(rotate, random_ips(ident, k), idn["ip"])
        if isinstance(p, ClickFarmParams) and p.shared_subnet:
            subnet = random_ips(ident, int(ctx["group_of"].max()) + 1) & np.uint32(0xFFFFFF00)
            host = ident.integers(1, 255, m.size).astype(np.uint32)
            idn["ip"] = (subnet[ctx["group_of"]] | host)[local]
        if isinstance(p, AccountTakeoverParams):
            idn = _attacker_identity(ident, users, m, p)
            idn = {key: v[local] for key, v in idn.items()}
        order = np.lexsort((desired, local))
        cols = {"user": user, "day": day, "desired": desired, **idn}
        cols = {key: v[order] for key, v in cols.items()}
        ids = sessions.add(kind=np.full(k, code, dtype=np.int64), **cols)
        attack[t] = (ids, local[order])

    # extra users for skew / edge-case tests
    extras = rng["extras"]
    extra_ids: list[pa.Array] = []
    next_user = users.n
    heavy_block = Block.empty()
    if heavy_user_events > 0:
        lo, _ = UA_RANGE["headless"]
        sid = sessions.add(
            user=np.array([next_user]),
            day=np.array([0]),
            kind=np.array([FRAUD_TYPES.index("click_bot") + 1]),
            desired=np.array([day_ms[0] + 5_000]),
            device=random_keys(extras, 1),
            ip=random_ips(extras, 1),
            ua=np.array([lo + 1]),
            channel=np.array([_WEB]),
        )
        heavy_block = _heavy_block(extras, int(sid[0]), heavy_user_events, catalog)
        extra_ids.append(pa.array(["heavy_bot_0"]))
        next_user += 1
    single_block = Block.empty()
    if singleton_users > 0:
        n = singleton_users
        channel = extras.integers(0, len(CHANNELS), n)
        lo = np.array([UA_RANGE[c][0] for c in CHANNELS])[channel]
        hi = np.array([UA_RANGE[c][1] for c in CHANNELS])[channel]
        sid = sessions.add(
            user=next_user + np.arange(n),
            day=np.zeros(n, dtype=np.int64),
            kind=np.zeros(n, dtype=np.int64),
            desired=day_ms[0] + hours_from_curve(extras, n),
            device=random_keys(extras, n),
            ip=random_ips(extras, n),
            ua=lo + extras.integers(0, 1 << 30, n) % (hi - lo),
            channel=channel,
        )
        cats = extras.integers(0, catalog.n_categories, n)
        single_block = Block(
            sess=sid,
            t=np.zeros(n, dtype=np.int64),
            etype=np.full(n, VIEW),
            item=catalog.zipf_items(extras, cats),
            pos=np.zeros(n, dtype=np.int64),
            spons=np.full(n, -1),
            query=np.full(n, -1),
        )
        extra_ids.append(digit_ids("single_", np.arange(n), 6))
        next_user += n

    s_user = sessions.column("user")
    s_kind = sessions.column("kind")
    s_desired = sessions.column("desired")

    # simulate: all normal-looking sessions in one Markov run, then each fraud type
    normal_ids = np.flatnonzero((s_kind == 0) & (s_user < users.n))
    # fixed-size chunks with their own streams: the same output whatever the number of cores
    chunks = [normal_ids[i : i + _MARKOV_CHUNK] for i in range(0, normal_ids.size, _MARKOV_CHUNK)]
    streams = np.random.SeedSequence([int(profile.seed), 0x0A11]).spawn(len(chunks))

    def normal_chunk(j: int) -> Block:
        ids = chunks[j]
        u = s_user[ids]
        return simulate_markov(
            np.random.default_rng(streams[j]),
            ids,
            users.fav[u],
            users.speed[u],
            np.full(ids.size, np_.max_events_per_session),
            catalog,
            np_,
        )

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:  # numpy releases the GIL
        blocks = [*pool.map(normal_chunk, range(len(chunks))), heavy_block, single_block]
    for t, (ids, owner) in attack.items():
        p = profile.fraud_params(t)
        trng = rng[t]
        cycles = _fraud.CYCLES[t](trng, ids, owner, contexts[t], catalog, p)
        prefixed = ids[trng.random(ids.size) < p.browse_prefix_prob]
        after = None
        if prefixed.size:
            lo, hi = p.browse_prefix_events
            u = s_user[prefixed]
            prefix = simulate_markov(
                trng,
                prefixed,
                users.fav[u],
                users.speed[u],
                trng.integers(max(lo, 1), max(hi, lo, 1) + 1, prefixed.size),
                catalog,
                np_,
            )
            blocks.append(prefix)
            after = np.full(sessions.n, -1, dtype=np.int64)
            np.maximum.at(after, prefix.sess, prefix.t)
        blocks.append(run_cycles(trng, cycles, catalog, np_, after))
    ev = Block.concat(blocks)

    # session durations, placement on the timeline, then time order
    duration = np.zeros(sessions.n, dtype=np.int64)
    np.maximum.at(duration, ev.sess, ev.t)
    start = place_sessions(s_user, s_desired, duration, int(np_.min_session_gap_s * 1000))
    ts = start[ev.sess] + ev.t
    keep = np.flatnonzero(ts < start_ms + n_days * MS_PER_DAY)
    by_time = np.argsort(ts[keep], kind="stable")
    ts = ts[keep][by_time]
    ev = ev.take(keep[by_time])

    pool_ids = digit_ids("u", np.arange(users.n), max(6, len(str(users.n - 1))))
    return Simulation(
        ts=ts,
        user=s_user[ev.sess],
        etype=ev.etype,
        item=ev.item,
        pos=ev.pos,
        spons=ev.spons,
        query=ev.query,
        sess=ev.sess,
        kind=s_kind[ev.sess],
        s_device=sessions.column("device").astype(np.uint64),
        s_ip=sessions.column("ip").astype(np.uint32),
        s_ua=sessions.column("ua"),
        s_channel=sessions.column("channel"),
        user_ids=pa.concat_arrays([pool_ids.cast(pa.string()), *extra_ids]),
        catalog=catalog,
        start_ms=start_ms,
        days=n_days,
        n_pool_users=users.n,
    )


def _attacker_identity(
    rng: np.random.Generator, users: Users, victims: np.ndarray, p: AccountTakeoverParams
) -> dict[str, np.ndarray]:
    """A device and IP never seen on the account, sometimes made to look local."""
    n = victims.size
    same_channel = rng.random(n) < p.same_channel_prob
    channel = np.where(
        same_channel, users.channel[victims], rng.integers(0, len(CHANNELS), n)
    ).astype(np.int64)
    lo = np.array([UA_RANGE[c][0] for c in CHANNELS])[channel]
    hi = np.array([UA_RANGE[c][1] for c in CHANNELS])[channel]
    ua = lo + rng.integers(0, 1 << 30, n) % (hi - lo)
    home = users.home_ip[victims]
    local = (home & np.uint32(0xFFFF0000)) | rng.integers(1, 65535, n).astype(np.uint32)
    near = rng.random(n) < p.same_subnet_prob
    ip = np.where(near, local, random_ips(rng, n))
    ip = np.where(ip == home, ip ^ np.uint32(1), ip)
    return {"device": random_keys(rng, n), "ip": ip, "ua": ua, "channel": channel}


def _heavy_block(rng: np.random.Generator, sid: int, n: int, catalog: Catalog) -> Block:
    """One click bot spreading ``n`` sponsored clicks evenly over the first day."""
    interval = max((MS_PER_DAY - 60_000) / n, 1.0)
    gap = np.maximum(np.rint(interval * (1 + 0.05 * rng.standard_normal(n))), 1).astype(np.int64)
    scale = (MS_PER_DAY - 60_000) / max(int(gap.sum()), 1)
    if scale < 1:  # keep the whole burst on the first date
        gap = np.maximum(np.floor(gap * scale), 0).astype(np.int64)
    targets = catalog.advertised.reshape(-1)[:4]
    return Block(
        sess=np.full(n, sid, dtype=np.int64),
        t=np.cumsum(gap) - gap[0],
        etype=np.where(rng.random(n) < 0.8, AD_CLICK, CLICK),
        item=targets[rng.integers(0, targets.size, n)],
        pos=rng.integers(1, 4, n),
        spons=np.ones(n, dtype=np.int64),
        query=np.full(n, -1, dtype=np.int64),
    )
