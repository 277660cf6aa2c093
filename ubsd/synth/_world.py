"""The simulated world: a product catalog and a user pool, fixed for one run by the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ubsd.synth._text import fixed_width, hex_strings, splitmix64
from ubsd.synth.profiles import Profile

CHANNELS: tuple[str, ...] = ("web", "app_ios", "app_android")
CHANNEL_SHARE = np.array([0.5, 0.25, 0.25])

#: User agents per channel; the last group is what careless bots send.
USER_AGENTS: dict[str, tuple[str, ...]] = {
    "web": (
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36"
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Safari/605.1.15"
        ),
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36"
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36"
        ),
    ),
    "app_ios": (
        "ShopApp/7.4.0 (iPhone15,2; iOS 18.1; Scale/3.00)",
        "ShopApp/7.4.0 (iPhone14,5; iOS 17.6; Scale/3.00)",
        "ShopApp/7.3.2 (iPhone13,2; iOS 17.5; Scale/3.00)",
        "ShopApp/7.4.0 (iPad13,18; iPadOS 18.1; Scale/2.00)",
    ),
    "app_android": (
        "ShopApp/7.4.0 (Linux; Android 14; Pixel 8)",
        "ShopApp/7.4.0 (Linux; Android 14; SM-S921B)",
        "ShopApp/7.3.2 (Linux; Android 13; SM-A546B)",
        "ShopApp/7.4.0 (Linux; Android 15; 23127PN0CG)",
    ),
    "headless": (
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36"
        ),
        "python-requests/2.32.3",
    ),
}
UA_LIST: tuple[str, ...] = tuple(ua for group in USER_AGENTS.values() for ua in group)
_UA_START = np.cumsum([0] + [len(g) for g in USER_AGENTS.values()])
UA_RANGE: dict[str, tuple[int, int]] = {
    k: (int(_UA_START[i]), int(_UA_START[i + 1])) for i, k in enumerate(USER_AGENTS)
}

_NOUNS = (
    "sneakers",
    "headphones",
    "laptop",
    "phone case",
    "coffee maker",
    "backpack",
    "desk lamp",
    "yoga mat",
    "watch",
    "sunglasses",
    "dress",
    "jeans",
    "jacket",
    "t-shirt",
    "blender",
    "vacuum",
    "tent",
    "bike helmet",
    "board game",
    "lego",
    "novel",
    "cookbook",
    "lipstick",
    "shampoo",
    "perfume",
    "dog food",
    "cat litter",
    "garden hose",
    "drill",
    "screwdriver set",
    "office chair",
    "monitor",
    "keyboard",
    "mouse",
    "charger",
    "smart speaker",
    "tv",
    "air fryer",
    "frying pan",
    "knife set",
    "bed sheets",
    "pillow",
    "towels",
    "candle",
    "vitamins",
    "protein powder",
    "running shoes",
    "swimsuit",
    "baby stroller",
    "diapers",
    "car seat",
    "phone",
    "tablet",
    "camera",
    "printer",
    "ink cartridge",
    "notebook",
    "pens",
    "guitar",
    "drone",
)
_STYLES = ("premium", "kids", "outdoor", "vintage", "eco", "travel", "pro", "mini")
_MODIFIERS = (
    "cheap",
    "best",
    "sale",
    "black",
    "red",
    "wireless",
    "for men",
    "for women",
    "2026",
    "deal",
    "large",
    "small",
    "gift",
    "new",
    "reviews",
)
#: Hourly weights of session starts over a UTC day: quiet at night, peak in the evening.
DAY_CURVE = np.array(
    [
        0.9,
        0.6,
        0.4,
        0.3,
        0.25,
        0.3,
        0.5,
        0.9,
        1.3,
        1.6,
        1.8,
        1.9,
        2.0,
        2.0,
        1.9,
        1.9,
        2.0,
        2.3,
        2.7,
        3.1,
        3.3,
        3.0,
        2.3,
        1.5,
    ]
)
_PUBLIC_FIRST_OCTETS = np.array(
    [
        24,
        31,
        37,
        46,
        62,
        66,
        73,
        78,
        81,
        84,
        89,
        92,
        98,
        104,
        109,
        151,
        176,
        185,
        188,
        193,
        195,
        203,
        212,
        217,
    ],
    dtype=np.uint32,
)


def _check_text(values: tuple[str, ...]) -> None:
    bad = [v for v in values if '"' in v or "\\" in v or not v.isascii()]
    if bad:  # the JSON writer does not escape: see _text.json_lines
        raise ValueError(f"generator vocabulary needs escaping: {bad[:3]}")


_check_text(UA_LIST + _NOUNS + _STYLES + _MODIFIERS)


def digit_ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded decimal numbers, e.g. ``i000123``."""
    v = np.asarray(values, dtype=np.int64)
    chars = np.empty((v.size, len(prefix) + width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    digits = np.frombuffer(b"0123456789", dtype=np.uint8)
    for k in range(width):
        chars[:, len(prefix) + k] = digits[(v // 10 ** (width - 1 - k)) % 10]
    return fixed_width(chars)


def random_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """Public-looking IPv4 addresses as uint32."""
    first = _PUBLIC_FIRST_OCTETS[rng.integers(0, _PUBLIC_FIRST_OCTETS.size, n)]
    mid = rng.integers(0, 65536, n).astype(np.uint32)
    last = rng.integers(1, 255, n).astype(np.uint32)
    return (first << np.uint32(24)) | (mid << np.uint32(8)) | last


def random_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random 64-bit keys (device ids are derived from them)."""
    return rng.integers(0, 2**63 - 1, n, dtype=np.int64).astype(np.uint64)


def hours_from_curve(rng: np.random.Generator, n: int, uniform: bool = False) -> np.ndarray:
    """Milliseconds after midnight of session starts, following the day curve (or uniform)."""
    if uniform:
        return rng.integers(0, 86_400_000, n)
    p = DAY_CURVE / DAY_CURVE.sum()
    hour = rng.choice(24, size=n, p=p)
    return hour * 3_600_000 + rng.integers(0, 3_600_000, n)


@dataclass
class Catalog:
    """Items with a fixed category, price and popularity rank; queries per category."""

    n_categories: int
    per_category: int
    item_cat: np.ndarray
    item_price: np.ndarray
    pop_order: np.ndarray  # (categories, per_category): item index by popularity rank
    zipf_cdf: np.ndarray
    advertised: np.ndarray  # (categories, n): items buying sponsored slots
    n_queries: int  # per category
    query_cdf: np.ndarray
    query_text: tuple[str, ...]

    @property
    def n_items(self) -> int:
        return self.item_cat.size

    def zipf_items(self, rng: np.random.Generator, cats: np.ndarray) -> np.ndarray:
        rank = np.searchsorted(self.zipf_cdf, rng.random(cats.size), side="right")
        return self.pop_order[cats, np.minimum(rank, self.per_category - 1)]

    def sponsored_items(self, rng: np.random.Generator, cats: np.ndarray) -> np.ndarray:
        return self.advertised[cats, rng.integers(0, self.advertised.shape[1], cats.size)]

    def queries(self, rng: np.random.Generator, cats: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.query_cdf, rng.random(cats.size), side="right")
        return cats * self.n_queries + np.minimum(k, self.n_queries - 1)

    def items_below(self, quantile: float) -> np.ndarray:
        return np.flatnonzero(self.item_price <= np.quantile(self.item_price, quantile))

    def items_above(self, quantile: float) -> np.ndarray:
        return np.flatnonzero(self.item_price >= np.quantile(self.item_price, quantile))

    def item_id_strings(self) -> pa.Array:
        return digit_ids("i", np.arange(self.n_items), 6)

    def category_id_strings(self) -> pa.Array:
        return digit_ids("c", np.arange(self.n_categories), 3)


def build_catalog(rng: np.random.Generator, profile: Profile) -> Catalog:
    """Items numbered category by category (so item-id order walks the catalog)."""
    n_cat, per = profile.n_categories, profile.items_per_category
    if n_cat > 999 or n_cat * per > 999_999:
        raise ValueError("catalog too large for the c%03d / i%06d id formats")
    item_cat = np.repeat(np.arange(n_cat, dtype=np.int32), per)
    cat_base = profile.price_median * rng.lognormal(0.0, profile.category_price_sigma, n_cat)
    price = cat_base[item_cat] * rng.lognormal(0.0, profile.item_price_sigma, item_cat.size)
    price = np.maximum(np.round(price, 2), 0.99)
    pop_order = np.argsort(rng.random((n_cat, per)), axis=1).astype(np.int32)
    pop_order += (np.arange(n_cat, dtype=np.int32) * per)[:, None]
    w = 1.0 / np.arange(1, per + 1) ** profile.normal.zipf_exponent
    zipf_cdf = np.cumsum(w) / w.sum()
    n_adv = max(2, round(per * profile.advertised_fraction))
    advertised = np.stack([rng.choice(pop_order[c], n_adv, replace=False) for c in range(n_cat)])
    n_q = profile.queries_per_category
    qw = 1.0 / np.arange(1, n_q + 1)
    names = [
        _NOUNS[c % len(_NOUNS)]
        if c < len(_NOUNS)
        else f"{_STYLES[(c // len(_NOUNS) - 1) % len(_STYLES)]} {_NOUNS[c % len(_NOUNS)]}"
        for c in range(n_cat)
    ]
    texts: list[str] = []
    for name in names:
        mods = ("", *_MODIFIERS)
        for k in range(n_q):
            mod = mods[k % len(mods)]
            texts.append(name if not mod else (f"{mod} {name}" if k % 2 else f"{name} {mod}"))
    return Catalog(
        n_categories=n_cat,
        per_category=per,
        item_cat=item_cat,
        item_price=price,
        pop_order=pop_order,
        zipf_cdf=zipf_cdf,
        advertised=advertised.astype(np.int32),
        n_queries=n_q,
        query_cdf=np.cumsum(qw) / qw.sum(),
        query_text=tuple(texts),
    )


@dataclass
class Users:
    """The user pool and each user's stable traits (identity, tastes, pace, activity)."""

    n: int
    fav: np.ndarray  # (n, k) favourite categories
    speed: np.ndarray  # dwell-time multiplier
    activity: np.ndarray  # probability of being active on a day
    channel: np.ndarray
    ua: np.ndarray
    ua_new: np.ndarray  # after the device change
    device: np.ndarray  # uint64 keys
    device_new: np.ndarray
    change_day: np.ndarray  # day index of a device change; >= days means never
    home_ip: np.ndarray


def build_users(rng: np.random.Generator, profile: Profile, catalog: Catalog) -> Users:
    n, p = profile.n_users, profile.normal
    cat_pop = 1.0 / np.arange(1, catalog.n_categories + 1) ** 0.8
    cat_pop = rng.permutation(cat_pop / cat_pop.sum())
    k = min(p.n_favourite_categories, catalog.n_categories)
    keys = rng.random((n, catalog.n_categories)) ** (1.0 / cat_pop)  # weighted draw w/o repl.
    fav = np.argsort(-keys, axis=1)[:, :k].astype(np.int32)
    sig = p.activity_sigma
    activity = np.clip(
        profile.daily_active_fraction * rng.lognormal(-0.5 * sig * sig, sig, n), 0.02, 1.0
    )
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE).astype(np.int8)
    lo = np.array([UA_RANGE[c][0] for c in CHANNELS])
    size = np.array([UA_RANGE[c][1] - UA_RANGE[c][0] for c in CHANNELS])
    ua = lo[channel] + rng.integers(0, 1 << 30, n) % size[channel]
    ua_new = lo[channel] + rng.integers(0, 1 << 30, n) % size[channel]
    change = rng.random(n) < p.device_change_prob
    change_day = np.where(change, rng.integers(0, max(profile.days, 1), n), profile.days + 1)
    return Users(
        n=n,
        fav=fav,
        speed=rng.lognormal(0.0, p.speed_sigma, n),
        activity=activity,
        channel=channel,
        ua=ua.astype(np.int16),
        ua_new=ua_new.astype(np.int16),
        device=random_keys(rng, n),
        device_new=random_keys(rng, n),
        change_day=change_day,
        home_ip=random_ips(rng, n),
    )


def device_strings(keys: np.ndarray) -> pa.Array:
    """Device ids like ``d-3fa2c91b07e4``, stable for a key."""
    return hex_strings(splitmix64(keys), 12, prefix=b"d-")
