"""Named, versioned generator profiles.

A profile is the complete recipe for one synthetic data set: with the generator code, it fixes
every event, label and injected bad row. Evaluations and benchmarks cite data by profile name and
version, so **a registered profile is frozen**: any change to what a profile generates ships as a
new version or a new name (``benchmark-v2``), never as an edit of the existing one. That covers
generator logic too: a change that would alter a registered profile's output must sit behind a
new profile field whose default keeps the old behavior. ``tests/test_synth.py`` pins the content
fingerprint (``generator.content_fingerprint``) of every registered profile to catch accidents.

Ad-hoc variations (bigger runs, another seed) are made with :func:`with_overrides` or
:func:`scaled`; the generator records every difference from the registered profile in the
manifest, so a run is always reproducible from ``(name, version, overrides)``.

``benchmark-v1`` is deliberately hard. Knobs common to every fraud type (:class:`FraudParams`):
``cover_sessions_per_day`` (attackers also browse like normal shoppers, in sessions labelled
normal), ``browse_prefix_prob`` (an attack session opens with normal browsing, labelled with the
session) and ``uniform_hours`` (False: attacks follow the human day curve); per type, a low
``interval_s`` rate with a human-like ``interval_cv`` (jitter of the gap between attack actions)
and interleaved searches and impressions. On it, ranking sessions by events per minute or by
regularity of gaps gives a PR-AUC of about 0.02 to 0.04 at a fraud-session share of about 3 %
(a test keeps it below 0.5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The labelled fraud types, in a fixed order (their codes in the generator are 1 + index).
FRAUD_TYPES: tuple[str, ...] = (
    "click_bot",
    "click_farm",
    "scraper",
    "ad_click_spam",
    "brushing",
    "account_takeover",
)

#: Malformed-row kinds the generator injects; each is a quarantine reason code of ingest
#: (``ubsd.io.schemas.QUARANTINE_REASONS``; a test checks they stay in sync). The first and the
#: last are representable in JSON only, so Parquet output skips them.
MALFORMED_KINDS: tuple[str, ...] = (
    "malformed_record",
    "missing_required_field",
    "unparseable_timestamp",
    "timestamp_out_of_range",
    "invalid_price",
    "invalid_value",
)
JSON_ONLY_KINDS: frozenset[str] = frozenset({"malformed_record", "invalid_value"})


@dataclass(frozen=True, kw_only=True)
class NormalParams:
    """How a normal shopper browses: a Markov chain over the session's states.

    States, in order: search, impression, view, click, add_to_cart, remove_from_cart, purchase;
    transitions have one more column, END. A click on a sponsored listing is an ``ad_click``.
    """

    start_probs: tuple[float, ...] = (0.65, 0.0, 0.35, 0.0, 0.0, 0.0, 0.0)
    transitions: tuple[tuple[float, ...], ...] = (
        # search  impr  view  click  atc   rfc   purch  END
        (0.02, 0.93, 0.02, 0.00, 0.00, 0.00, 0.00, 0.03),  # search
        (0.03, 0.76, 0.01, 0.17, 0.00, 0.00, 0.00, 0.03),  # impression
        (0.13, 0.00, 0.33, 0.22, 0.11, 0.00, 0.00, 0.21),  # view
        (0.00, 0.00, 0.95, 0.00, 0.02, 0.00, 0.00, 0.03),  # click
        (0.12, 0.00, 0.30, 0.05, 0.05, 0.07, 0.28, 0.13),  # add_to_cart
        (0.15, 0.00, 0.35, 0.05, 0.05, 0.00, 0.10, 0.30),  # remove_from_cart
        (0.20, 0.00, 0.15, 0.00, 0.00, 0.00, 0.00, 0.65),  # purchase
    )
    #: Median seconds of the gap before entering each state (log-normal, ``dwell_sigma``).
    dwell_median_s: tuple[float, ...] = (12.0, 0.8, 40.0, 8.0, 35.0, 20.0, 70.0)
    dwell_sigma: float = 0.9
    impression_burst_median_s: float = 0.25  # impression right after an impression (scrolling)
    view_after_click_median_s: float = 1.0  # product page opening after a click
    max_events_per_session: int = 150
    max_dwell_s: float = 1200.0  # no gap inside a session exceeds this
    min_session_gap_s: float = 2700.0  # two sessions of one user are at least this far apart
    n_favourite_categories: int = 3
    explore_prob: float = 0.1  # a search outside the favourite categories
    sponsored_top_prob: float = 0.2  # a sponsored listing at positions 1-2
    sponsored_other_prob: float = 0.04
    sponsored_click_is_ad_prob: float = 0.85
    speed_sigma: float = 0.3  # per-user multiplier on every dwell time
    activity_sigma: float = 0.6  # per-user spread of the daily active probability
    ip_roam_prob: float = 0.03  # a session from another network (travel, mobile)
    device_change_prob: float = 0.04  # a user switches to a new device once in the period
    zipf_exponent: float = 1.1  # item popularity within a category


@dataclass(frozen=True, kw_only=True)
class FraudParams:
    """Knobs every fraud type has; subclasses add the type's own behavior."""

    sessions_per_day: float = 2.0  # attack sessions per active day (1 + Poisson(mean - 1))
    active_day_fraction: float = 0.8  # each day active with this probability (at least one day)
    cover_sessions_per_day: float = 0.0  # normal browsing sessions, labelled normal
    browse_prefix_prob: float = 0.0  # attack session opens with normal browsing (labelled fraud)
    browse_prefix_events: tuple[int, int] = (2, 8)
    uniform_hours: bool = False  # True: attacks at any hour; False: the human day curve


@dataclass(frozen=True, kw_only=True)
class ClickBotParams(FraudParams):
    """Clicks sponsored listings at a machine-regular rate, never shops."""

    events_per_session: tuple[int, int] = (60, 160)  # clicks per session, uniform
    interval_s: float = 1.5  # median gap between clicks
    interval_cv: float = 0.08
    ad_click_share: float = 0.85  # ad_click vs click on the sponsored listing
    impressions_per_click: float = 0.0  # Poisson mean of result impressions loaded per click
    search_prob: float = 0.0  # a search before a click
    n_targets: int = 4  # sponsored items the bot hits
    rotate_ip_prob: float = 0.3  # a session from a fresh proxy IP
    headless_ua_prob: float = 0.5
    uniform_hours: bool = True


@dataclass(frozen=True, kw_only=True)
class ClickFarmParams(FraudParams):
    """Groups of accounts boosting a few sellers' items, human timing, overlapping windows."""

    group_size: tuple[int, int] = (3, 6)
    target_items: int = 3  # items of one seller per group
    cycles_per_session: tuple[int, int] = (3, 6)  # search -> find target -> click -> view ...
    off_target_prob: float = 0.1  # a cycle that only views some other item
    add_to_cart_prob: float = 0.5
    purchase_prob: float = 0.4  # given add_to_cart
    impressions: tuple[int, int] = (3, 8)  # results shown before the target is clicked
    interval_s: float = 15.0  # median gap before each cycle
    interval_cv: float = 1.0
    window_minutes: float = 60.0  # members' sessions start within one window per group and day
    shared_subnet: bool = True  # members' IPs share one /24


@dataclass(frozen=True, kw_only=True)
class ScraperParams(FraudParams):
    """Walks the catalog in item-id order with tiny dwell; views only."""

    views_per_session: tuple[int, int] = (150, 400)
    interval_s: float = 0.6
    interval_cv: float = 0.25
    max_stride: int = 1  # item-id step, uniform 1..max_stride per scraper
    search_prob: float = 0.0  # a search instead of a view
    headless_ua_prob: float = 0.5
    uniform_hours: bool = True


@dataclass(frozen=True, kw_only=True)
class AdClickSpamParams(FraudParams):
    """Repeated ad_clicks on one competitor's sponsored listing to drain its budget."""

    clicks_per_session: tuple[int, int] = (15, 40)
    interval_s: float = 25.0
    interval_cv: float = 0.2
    impressions_per_click: float = 1.0  # Poisson mean; the listing is among them
    search_prob: float = 0.3
    view_after_prob: float = 0.3  # lands on the product page after the ad_click


@dataclass(frozen=True, kw_only=True)
class BrushingParams(FraudParams):
    """Fake orders of cheap items without browsing."""

    orders_per_session: tuple[int, int] = (2, 6)
    cheap_quantile: float = 0.1  # items priced below this catalog quantile
    items_per_brusher: int = 2
    add_to_cart_prob: float = 0.5  # add_to_cart right before the purchase
    view_before_prob: float = 0.0  # a product view before the order ("nearly none")
    interval_s: float = 20.0
    interval_cv: float = 0.4
    sessions_per_day: float = 1.5


@dataclass(frozen=True, kw_only=True)
class AccountTakeoverParams(FraudParams):
    """A normal account taken over on a later day: new device and IP, high-value purchases."""

    browse_events: tuple[int, int] = (0, 2)  # quick views before buying
    purchases_per_session: tuple[int, int] = (2, 4)
    high_value_quantile: float = 0.9  # items priced above this catalog quantile
    interval_s: float = 6.0
    interval_cv: float = 0.5
    same_channel_prob: float = 0.3  # attacker uses the victim's channel
    same_subnet_prob: float = 0.0  # attacker's IP in the victim's /16 (a residential proxy)
    sessions_per_day: float = 1.5
    active_day_fraction: float = 0.5  # days after the takeover day


DEFAULT_FRAUD_MIX: tuple[tuple[str, float], ...] = (
    ("click_bot", 0.2),
    ("click_farm", 0.25),
    ("scraper", 0.15),
    ("ad_click_spam", 0.15),
    ("brushing", 0.1),
    ("account_takeover", 0.15),
)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Every parameter of one synthetic data set (see the module docstring: frozen once named)."""

    name: str
    version: int = 1
    description: str = ""
    seed: int = 0
    start_date: str = "2026-11-01"  # first UTC date
    days: int = 3
    n_users: int = 400  # user pool; fraud users are drawn from it
    daily_active_fraction: float = 0.5
    sessions_per_day: float = 1.6  # per active user-day: 1 + Poisson(mean - 1)
    n_categories: int = 30
    items_per_category: int = 200
    queries_per_category: int = 12
    price_median: float = 25.0
    category_price_sigma: float = 0.9
    item_price_sigma: float = 0.5
    advertised_fraction: float = 0.06  # items that buy sponsored slots
    fraud_prevalence: float = 0.02  # share of the user pool that is fraudulent
    min_users_per_type: int = 0  # force every type present when prevalence * users is small
    fraud_mix: tuple[tuple[str, float], ...] = DEFAULT_FRAUD_MIX
    normal: NormalParams = field(default_factory=NormalParams)
    click_bot: ClickBotParams = field(default_factory=ClickBotParams)
    click_farm: ClickFarmParams = field(default_factory=ClickFarmParams)
    scraper: ScraperParams = field(default_factory=ScraperParams)
    ad_click_spam: AdClickSpamParams = field(default_factory=AdClickSpamParams)
    brushing: BrushingParams = field(default_factory=BrushingParams)
    account_takeover: AccountTakeoverParams = field(default_factory=AccountTakeoverParams)
    malformed_rate: float = 0.002  # extra bad rows per well-formed event, all kinds together
    duplicate_rate: float = 0.001  # exact duplicate rows
    conflicting_duplicate_rate: float = 0.0005  # same event_id, other content, written later
    min_injected_per_kind: int = 0  # per date and kind, so every run exercises ingest

    def fraud_params(self, fraud_type: str) -> FraudParams:
        """The parameters of one fraud type."""
        if fraud_type not in FRAUD_TYPES:
            raise KeyError(f"unknown fraud type {fraud_type!r}; known: {', '.join(FRAUD_TYPES)}")
        return getattr(self, fraud_type)


_CI = Profile(
    name="ci",
    version=1,
    description="tiny and fast: 2 days, 60 users, a few thousand events, every fraud type",
    seed=7,
    days=2,
    n_users=60,
    daily_active_fraction=0.7,
    sessions_per_day=1.8,
    n_categories=12,
    items_per_category=60,
    min_users_per_type=1,
    click_bot=ClickBotParams(events_per_session=(40, 80)),
    scraper=ScraperParams(views_per_session=(60, 120)),
    ad_click_spam=AdClickSpamParams(clicks_per_session=(8, 20)),
    malformed_rate=0.003,
    min_injected_per_kind=1,
)

_DEMO = Profile(
    name="demo",
    version=1,
    description="the embedded default: 3 days, 400 users, tens of thousands of events",
    seed=11,
    days=3,
    n_users=400,
    daily_active_fraction=0.65,
    sessions_per_day=2.2,
    fraud_prevalence=0.025,
    min_users_per_type=1,
    min_injected_per_kind=1,
)

_BENCHMARK_V1 = Profile(
    name="benchmark-v1",
    version=1,
    description=(
        "frozen evaluation set, deliberately hard: low-rate attackers with human-like jittered "
        "timing, normal browsing mixed into and around attacks, human day curve"
    ),
    seed=20261101,
    days=7,
    n_users=3000,
    n_categories=60,
    items_per_category=300,
    fraud_prevalence=0.02,
    click_bot=ClickBotParams(
        events_per_session=(12, 40),
        interval_s=22.0,
        interval_cv=0.7,
        impressions_per_click=2.5,
        search_prob=0.5,
        ad_click_share=0.6,
        n_targets=8,
        rotate_ip_prob=0.05,
        headless_ua_prob=0.0,
        sessions_per_day=1.5,
        cover_sessions_per_day=1.0,
        browse_prefix_prob=0.6,
        uniform_hours=False,
    ),
    click_farm=ClickFarmParams(
        group_size=(4, 10),
        target_items=5,
        cycles_per_session=(1, 4),
        off_target_prob=0.35,
        add_to_cart_prob=0.35,
        purchase_prob=0.3,
        interval_s=30.0,
        interval_cv=1.2,
        window_minutes=240.0,
        shared_subnet=False,
        sessions_per_day=1.2,
        cover_sessions_per_day=1.0,
        browse_prefix_prob=0.5,
    ),
    scraper=ScraperParams(
        views_per_session=(20, 60),
        interval_s=9.0,
        interval_cv=0.9,
        max_stride=3,
        search_prob=0.1,
        headless_ua_prob=0.0,
        sessions_per_day=2.0,
        cover_sessions_per_day=1.0,
        browse_prefix_prob=0.5,
        uniform_hours=False,
    ),
    ad_click_spam=AdClickSpamParams(
        clicks_per_session=(3, 10),
        interval_s=45.0,
        interval_cv=0.9,
        impressions_per_click=3.0,
        search_prob=0.7,
        view_after_prob=0.6,
        sessions_per_day=1.5,
        cover_sessions_per_day=1.0,
        browse_prefix_prob=0.6,
    ),
    brushing=BrushingParams(
        orders_per_session=(1, 3),
        view_before_prob=0.35,
        add_to_cart_prob=0.7,
        interval_s=40.0,
        interval_cv=0.9,
        sessions_per_day=1.2,
        cover_sessions_per_day=1.0,
        browse_prefix_prob=0.3,
    ),
    account_takeover=AccountTakeoverParams(
        browse_events=(3, 12),
        purchases_per_session=(1, 3),
        high_value_quantile=0.8,
        interval_s=25.0,
        interval_cv=0.9,
        same_channel_prob=0.7,
        same_subnet_prob=0.5,
        browse_prefix_prob=0.5,
    ),
    malformed_rate=0.002,
)

#: The registered profiles. Frozen: see the module docstring.
PROFILES: dict[str, Profile] = {p.name: p for p in (_CI, _DEMO, _BENCHMARK_V1)}


def get_profile(name: str) -> Profile:
    """Look up a registered profile by name; unknown names list the known ones.

    >>> get_profile("ci").days
    2
    >>> get_profile("nope")
    Traceback (most recent call last):
    ...
    KeyError: "unknown profile 'nope'; known profiles: ci, demo, benchmark-v1"
    """
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise KeyError(f"unknown profile {name!r}; known profiles: {known}") from None


def _coerce(current: Any, value: Any) -> Any:
    """Turn JSON-ish override values (lists) back into the dataclass field's tuple form."""
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return value


def with_overrides(profile: Profile, overrides: Mapping[str, Any] | None) -> Profile:
    """A copy of ``profile`` with fields replaced; dotted keys reach nested parameters.

    >>> p = with_overrides(get_profile("ci"), {"days": 3, "click_bot.interval_s": 2.0})
    >>> (p.days, p.click_bot.interval_s, p.name)
    (3, 2.0, 'ci')
    """
    if not overrides:
        return profile
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if not hasattr(profile, head):
            raise KeyError(f"unknown profile field {head!r}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = _coerce(getattr(profile, head), value)
    for head, fields in nested.items():
        sub = top.get(head, getattr(profile, head))
        for name in fields:
            if not hasattr(sub, name):
                raise KeyError(f"unknown field {head}.{name}")
        top[head] = dataclasses.replace(
            sub, **{k: _coerce(getattr(sub, k), v) for k, v in fields.items()}
        )
    return dataclasses.replace(profile, **top)


def profile_diff(base: Profile, other: Profile) -> dict[str, Any]:
    """Dotted-key overrides that turn ``base`` into ``other`` (JSON-ready values)."""
    diff: dict[str, Any] = {}
    for f in dataclasses.fields(base):
        a, b = getattr(base, f.name), getattr(other, f.name)
        if a == b:
            continue
        if dataclasses.is_dataclass(a) and type(a) is type(b):
            for sub in dataclasses.fields(a):
                sa, sb = getattr(a, sub.name), getattr(b, sub.name)
                if sa != sb:
                    diff[f"{f.name}.{sub.name}"] = to_jsonable(sb)
        else:
            diff[f.name] = to_jsonable(b)
    return diff


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts and tuples to lists, for the manifest."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [to_jsonable(v) for v in value]
    return value


def scaled(profile: Profile, target_events: int) -> Profile:
    """A copy of ``profile`` whose user pool is resized to produce about ``target_events``.

    Benchmarks use it to reach 1M or 10M events with the same behavior mix; the generator
    records the changed ``n_users`` as an override in the manifest. The estimate comes from a
    small pilot run of the same profile (one day), so it tracks any profile's session lengths.
    """
    from ubsd.synth.generator import estimate_events_per_user_day

    per_user_day = estimate_events_per_user_day(profile)
    n_users = max(10, round(target_events / (per_user_day * profile.days)))
    return dataclasses.replace(profile, n_users=n_users)


__all__ = [
    "FRAUD_TYPES",
    "MALFORMED_KINDS",
    "PROFILES",
    "AccountTakeoverParams",
    "AdClickSpamParams",
    "BrushingParams",
    "ClickBotParams",
    "ClickFarmParams",
    "FraudParams",
    "NormalParams",
    "Profile",
    "ScraperParams",
    "get_profile",
    "profile_diff",
    "scaled",
    "to_jsonable",
    "with_overrides",
]
