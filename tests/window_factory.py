"""Hand-made windows for model tests: Markov-chain shoppers and obvious click bots (numpy only)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from ubsd.io.schemas import WINDOW_FEATURE_ARRAYS
from ubsd.io.window_arrays import WindowArrays
from ubsd.sessionize.spec import FeatureSpec

BOT_TYPE = 9  # an event type id normal shoppers use rarely


def make_windows(
    spec: FeatureSpec,
    n_normal: int,
    n_bot: int,
    seed: int = 0,
    day: dt.date = dt.date(2026, 11, 1),
    user_prefix: str = "u",
    bot_prefix: str | None = None,
) -> WindowArrays:
    rng = np.random.default_rng(seed)
    L = spec.window_length
    n = n_normal + n_bot
    cols: dict[str, np.ndarray] = {}
    for k in WINDOW_FEATURE_ARRAYS:
        cols[k] = rng.integers(2, spec.vocab_sizes[k], (n, L))
    # Shoppers: search -> view -> view/click -> cart, slow and varied.
    trans = np.array(
        [[0.1, 0.6, 0.2, 0.1], [0.2, 0.4, 0.3, 0.1], [0.3, 0.4, 0.2, 0.1], [0.5, 0.3, 0.1, 0.1]]
    )
    et = np.zeros((n_normal, L), dtype=np.int64)
    state = rng.integers(0, 4, n_normal)
    for j in range(L):
        et[:, j] = state + 2
        state = np.array([rng.choice(4, p=trans[s]) for s in state])
    cols["event_type_ids"][:n_normal] = et
    cols["dt_buckets"][:n_normal] = rng.integers(10, 24, (n_normal, L))
    cols["sponsored_flags"][:n_normal] = 2
    # Bots: the same ad click on one sponsored item, every second.
    cols["event_type_ids"][n_normal:] = BOT_TYPE
    cols["dt_buckets"][n_normal:] = 3
    cols["item_buckets"][n_normal:] = rng.integers(2, spec.vocab_sizes["item_buckets"], (n_bot, 1))
    cols["sponsored_flags"][n_normal:] = 3
    lengths = rng.integers(L // 2, L + 1, n)
    mask = (np.arange(L)[None, :] < lengths[:, None]).astype(np.int32)
    for k in WINDOW_FEATURE_ARRAYS:
        cols[k] = np.where(mask == 1, cols[k], 0)
    w = WindowArrays.from_columns({**cols, "mask": mask}, L)
    labels = np.r_[np.zeros(n_normal, int), np.ones(n_bot, int)]
    w.meta.update(
        label=labels.astype(object),
        fraud_type=np.array([None] * n_normal + ["click_bot"] * n_bot, dtype=object),
        user_id=np.array(
            [f"{user_prefix}{i}" for i in range(n_normal)]
            + [f"{bot_prefix or user_prefix}{n_normal + i}" for i in range(n_bot)],
            dtype=object,
        ),
        window_id=np.array([f"{user_prefix}w{i}" for i in range(n)], dtype=object),
        date=np.array([day] * n, dtype=object),
        feature_version=np.array([spec.version] * n, dtype=object),
    )
    order = rng.permutation(n)
    return w.take(order)


def write_windows_table(spark, settings, windows: WindowArrays) -> None:
    """Write hand-made windows into the windows table (Delta), as sessionize would."""
    from ubsd.io.paths import resolve_under
    from ubsd.io.schemas import WINDOWS_SCHEMA
    from ubsd.io.tables import write_dates

    rows = []
    base = dt.datetime(2026, 1, 1)
    for i in range(windows.n):
        n_ev = int(windows.mask[i].sum())
        day = windows.meta["date"][i]
        start = dt.datetime.combine(day, dt.time(12)) if day else base
        row = {
            "window_id": str(windows.meta["window_id"][i]),
            "user_id": str(windows.meta["user_id"][i]),
            "session_id": f"s-{windows.meta['user_id'][i]}",
            "window_index": 0,
            "start_ts": start,
            "end_ts": start + dt.timedelta(seconds=n_ev),
            "n_events": n_ev,
            "event_ids": [f"e{i}-{j}" for j in range(n_ev)],
            "event_types": [
                "ad_click" if t == BOT_TYPE else "view"
                for t in windows.features["event_type_ids"][i][:n_ev]
            ],
            "item_ids": [f"item{v}" for v in windows.features["item_buckets"][i][:n_ev]],
            "dt_seconds": [1.0] * n_ev,
            **{k: [int(x) for x in windows.features[k][i][:n_ev]] for k in WINDOW_FEATURE_ARRAYS},
            "mask": [1] * n_ev,
            "label": int(windows.meta["label"][i]),
            "fraud_type": windows.meta["fraud_type"][i],
            "feature_version": str(windows.meta["feature_version"][i]),
            "date": day,
            "run_id": "test",
            "processed_at": base,
        }
        rows.append(row)
    df = spark.createDataFrame(rows, WINDOWS_SCHEMA)
    dates = sorted({r["date"] for r in rows})
    path = resolve_under(settings.storage.root, settings.storage.windows_table)
    write_dates(df, path, dates, settings.storage.format, WINDOWS_SCHEMA)


def multi_day_windows(
    spec: FeatureSpec, days: list[dt.date], per_day: int, bots: int, seed: int = 0
) -> WindowArrays:
    """Windows over several days: shoppers recur across days (u0..), so splits drop some of
    their windows; bots are new users every day (as bot accounts rotate)."""
    parts = []
    for k, day in enumerate(days):
        w = make_windows(
            spec, per_day, bots, seed=seed + k, day=day, user_prefix="u", bot_prefix=f"b{k}-"
        )
        w.meta["window_id"] = np.array([f"{day}-{x}" for x in w.meta["window_id"]], dtype=object)
        parts.append(w)
    return WindowArrays.concat(parts)


def untrained_model(settings, windows: WindowArrays, spec: FeatureSpec | None = None, **info):
    """An untrained model (``settings.model``) with a vocabulary built from ``windows``.

    Enough for tests about logging, registering, resolving, loading and scoring plumbing, where
    what the model learned does not matter. ``info`` lands in the model's manifest.
    """
    from ubsd.model.artifact import BehaviorModel
    from ubsd.model.vocab import Vocabulary
    from ubsd.sessionize.spec import feature_spec
    from ubsd.training.trainer import new_network

    spec = spec or feature_spec(settings.sessionize)
    vocab = Vocabulary.build(
        [{k: windows.features[k] for k in WINDOW_FEATURE_ARRAYS}], spec.vocab_sizes
    )
    return BehaviorModel(
        net=new_network(settings, spec).eval(),
        spec=spec,
        vocab=vocab,
        threshold=0.5,
        has_classifier=True,
        mode="full",
        info={"trained_id": "untrained-test-model", **info},
    )
