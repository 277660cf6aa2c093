"""Write a profile's synthetic clickstream: raw events, ground-truth labels and a manifest.

Layout under ``out_dir``::

    raw/date=YYYY-MM-DD/part-00000.jsonl   (or .parquet)  events by UTC date of ts, plus
                                                          injected bad and duplicate rows
    labels/part-00000.parquet                             one row per well-formed event
    manifest.json                                         counts, see Manifest

Rows of a raw file are in time order; injected rows sit at random places, and duplicates always
after the row they copy. Everything is a pure function of (profile, overrides, options): the same
inputs give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ubsd.synth._plan import Simulation, fraud_allocation, simulate
from ubsd.synth._sim import EVENT_TYPES
from ubsd.synth._text import (
    MS_PER_DAY,
    fixed_width,
    hex_strings,
    ipv4_strings,
    iso_ms,
    json_lines,
    splitmix64,
    string_bytes,
)
from ubsd.synth._world import CHANNELS, UA_LIST, device_strings
from ubsd.synth.manifest import MANIFEST_FILE, Manifest
from ubsd.synth.profiles import (
    FRAUD_TYPES,
    JSON_ONLY_KINDS,
    MALFORMED_KINDS,
    PROFILES,
    Profile,
    get_profile,
    profile_diff,
    to_jsonable,
    with_overrides,
)

FORMATS: tuple[str, ...] = ("json", "parquet")
_SUFFIX = {"json": "jsonl", "parquet": "parquet"}
_CHUNK = 262_144  # rows per Parquet row group
_JSON_CHUNK = 32_768  # rows rendered at a time (small buffers get reused, big ones page-fault)
_WRITERS = min(4, os.cpu_count() or 1)  # dates written in parallel

#: Arrow types of the raw files, per ``ubsd.io.schemas.RAW_EVENT_SCHEMA`` (ts stays a string).
#: All nullable: injected bad rows break the contract on purpose.
RAW_ARROW_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("ts", pa.string()),
        ("event_type", pa.string()),
        ("item_id", pa.string()),
        ("category_id", pa.string()),
        ("query", pa.string()),
        ("position", pa.int32()),
        ("is_sponsored", pa.bool_()),
        ("price", pa.float64()),
        ("device_id", pa.string()),
        ("ip", pa.string()),
        ("user_agent", pa.string()),
        ("channel", pa.string()),
    ]
)
#: Arrow types of the labels file, per ``ubsd.io.schemas.LABELS_SCHEMA``.
LABELS_ARROW_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("is_fraud", pa.bool_(), nullable=False),
        pa.field("fraud_type", pa.string()),
        pa.field("date", pa.date32(), nullable=False),
    ]
)
_OUTPUTS = frozenset({"raw", "labels", MANIFEST_FILE})


def event_ids(counters: np.ndarray, seed: int) -> pa.Array:
    """16-hex-char event ids: a bijective mix of (counter + seed salt), hence unique per run."""
    salt = splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    return hex_strings(splitmix64(np.asarray(counters, dtype=np.uint64) + salt), 16)


def _dict(indices: np.ndarray, dictionary: pa.Array, missing: np.ndarray | None = None) -> pa.Array:
    idx = pa.array(indices.astype(np.int32), mask=missing)
    return pa.DictionaryArray.from_arrays(idx, dictionary)


def _frag(template: str, values: pa.Array) -> pa.Array:
    """``template`` with ``{}`` replaced by each value, e.g. ``,"channel":"{}"``."""
    head, tail = template.split("{}")
    return pc.binary_join_element_wise(head, values.cast(pa.string()), tail, "")


# Ways an injected row departs from the row it copies (see _plan_injection).
_USER_NULL, _USER_EMPTY = 1, 2
_TS_WORDS = ("yesterday", "not-a-timestamp")
_TS_1999 = 3
_PRICE_NEGATIVE, _PRICE_CONFLICT = 1, 2
_TS_1999_DAY_MS = int(np.datetime64("1999-12-31", "ms").astype(np.int64))


class _Columns:
    """Turns the simulation's integer codes into the raw contract's columns.

    Low-cardinality text columns are Arrow dictionary arrays over small lookup tables, so no
    per-row string is built for Parquet; JSON lines are joined from pre-rendered fragments.
    """

    labels_schema = pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("user_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
            pa.field("is_fraud", pa.bool_(), nullable=False),
            pa.field("fraud_type", pa.dictionary(pa.int32(), pa.string())),
            pa.field("date", pa.date32(), nullable=False),
        ]
    )

    def __init__(self, sim: Simulation, seed: int) -> None:
        self.sim = sim
        self.seed = seed
        cat = sim.catalog
        self.empty_user = len(sim.user_ids)
        self.users = pa.concat_arrays([sim.user_ids, pa.array([""], type=pa.string())])
        self.event_types = pa.array(EVENT_TYPES, type=pa.string())
        self.item_ids = cat.item_id_strings().cast(pa.string())
        self.cat_ids = cat.category_id_strings().cast(pa.string())
        self.queries = pa.array(cat.query_text, type=pa.string())
        dev_keys, self.sess_device = np.unique(sim.s_device, return_inverse=True)
        ip_keys, self.sess_ip = np.unique(sim.s_ip, return_inverse=True)
        self.devices = device_strings(dev_keys).cast(pa.string())
        self.ips = ipv4_strings(ip_keys)
        self.uas = pa.array(UA_LIST, type=pa.string())
        self.channels = pa.array(CHANNELS, type=pa.string())
        self.fraud_types = pa.array(FRAUD_TYPES, type=pa.string())
        self._frags: dict[str, pa.Array] | None = None

    def rows(
        self,
        g: np.ndarray,
        counter: np.ndarray,
        user_mode: np.ndarray | None = None,
        ts_mode: np.ndarray | None = None,
        price_mode: np.ndarray | None = None,
    ) -> pa.Table:
        """Rows ``g`` of the simulation with the given event-id counters and defects."""
        s = self.sim
        n = g.size
        item, sess, query, pos, spons = s.item[g], s.sess[g], s.query[g], s.pos[g], s.spons[g]
        no_item = item < 0
        safe_item = np.where(no_item, 0, item)
        user = s.user[g]
        user_missing = None
        if user_mode is not None and user_mode.any():
            user = np.where(user_mode == _USER_EMPTY, self.empty_user, user)
            user_missing = user_mode == _USER_NULL

        ts = s.ts[g]
        bad_words = None
        if ts_mode is not None and ts_mode.any():
            ts = np.where(ts_mode == _TS_1999, _TS_1999_DAY_MS + ts % MS_PER_DAY, ts)
            bad_words = (ts_mode == 1) | (ts_mode == 2)
        ts_col = iso_ms(ts)
        if bad_words is not None and bad_words.any():
            assert ts_mode is not None
            words = pa.array(_TS_WORDS, type=pa.string())
            pick = np.where(bad_words, n + ts_mode - 1, np.arange(n))
            ts_col = pa.concat_arrays([ts_col.cast(pa.string()), words]).take(pa.array(pick))

        price = s.catalog.item_price[safe_item]
        price_missing = no_item
        if price_mode is not None and price_mode.any():
            neg = price_mode == _PRICE_NEGATIVE
            price = np.where(neg, np.where(no_item, -9.99, -price - 0.01), price)
            price_missing = no_item & ~neg
            conflict = price_mode == _PRICE_CONFLICT
            price = np.where(conflict, np.round(price * 1.5 + 1.0, 2), price)

        cols = [
            event_ids(counter, self.seed),
            _dict(user, self.users, user_missing),
            ts_col,
            _dict(s.etype[g], self.event_types),
            _dict(safe_item, self.item_ids, no_item),
            _dict(s.catalog.item_cat[safe_item], self.cat_ids, no_item),
            _dict(np.maximum(query, 0), self.queries, query < 0),
            pa.array(pos.astype(np.int32), mask=pos <= 0),
            pa.array(spons == 1, mask=spons < 0),
            pa.array(price, mask=price_missing),
            _dict(self.sess_device[sess], self.devices),
            _dict(self.sess_ip[sess], self.ips),
            _dict(s.s_ua[sess], self.uas),
            _dict(s.s_channel[sess], self.channels),
        ]
        return pa.Table.from_arrays(cols, names=RAW_ARROW_SCHEMA.names)

    def labels(self, lo: int, hi: int) -> pa.Table:
        """Ground truth of rows ``lo:hi`` (one per well-formed event)."""
        s = self.sim
        kind = s.kind[lo:hi]
        days = np.floor_divide(s.ts[lo:hi], MS_PER_DAY).astype(np.int32)
        return pa.Table.from_arrays(
            [
                event_ids(np.arange(lo, hi), self.seed).cast(pa.string()),
                _dict(s.user[lo:hi], self.users),
                pa.array(kind > 0),
                _dict(np.maximum(kind - 1, 0), self.fraud_types, kind == 0),
                pa.array(days, type=pa.int32()).cast(pa.date32()),
            ],
            schema=self.labels_schema,
        )

    def prepare_json(self) -> None:
        """Render the per-value JSON fragments (once, before any writer thread starts)."""
        if self._frags is not None:
            return
        s = self.sim
        item_part = pc.binary_join_element_wise(
            _frag(',"item_id":"{}"', self.item_ids),
            _frag(',"category_id":"{}"', self.cat_ids.take(pa.array(s.catalog.item_cat))),
            _frag(',"price":{}', pa.array(s.catalog.item_price)),
            "",
        )
        # everything that is fixed for a session: the user and the identity, then line end
        sess_user = np.zeros(s.s_ua.size, dtype=np.int64)
        sess_user[s.sess] = s.user
        sess_part = pc.binary_join_element_wise(
            _frag(',"user_id":"{}"', self.users.take(pa.array(sess_user))),
            _frag(',"device_id":"{}"', self.devices.take(pa.array(self.sess_device))),
            _frag(',"ip":"{}"', self.ips.take(pa.array(self.sess_ip))),
            _frag(',"user_agent":"{}"', self.uas.take(pa.array(s.s_ua))),
            _frag(',"channel":"{}"}\n', self.channels.take(pa.array(s.s_channel))),
            "",
        )
        self._frags = {
            "etype": _frag(',"event_type":"{}"', self.event_types),
            "query": _frag(',"query":"{}"', self.queries),
            "pos": _frag(',"position":{}', pa.array(np.arange(64), type=pa.int64())),
            "spons": _frag(',"is_sponsored":{}', pa.array([False, True])),
            "item": item_part,
            "sess": sess_part,
        }

    def json_lines(self, g: np.ndarray, counter: np.ndarray) -> pa.Array:
        """JSON lines of well-formed rows ``g``: one join of pre-rendered fragments.

        Keys come in ``JSON_KEY_ORDER`` (session-constant fields last, so that they are one
        fragment), the same order and number formatting as ``_text.json_lines``.
        """
        self.prepare_json()
        assert self._frags is not None
        s, f = self.sim, self._frags
        item, query, pos, spons = s.item[g], s.query[g], s.pos[g], s.spons[g]
        ids = np.frombuffer(event_ids(counter, self.seed).buffers()[2], dtype=np.uint8)
        tss = np.frombuffer(iso_ms(s.ts[g]).buffers()[2], dtype=np.uint8)
        head = np.empty((g.size, 62), dtype=np.uint8)
        head[:, :13] = np.frombuffer(b'{"event_id":"', dtype=np.uint8)
        head[:, 13:29] = ids[: g.size * 16].reshape(-1, 16)
        head[:, 29:37] = np.frombuffer(b'","ts":"', dtype=np.uint8)
        head[:, 37:61] = tss[: g.size * 24].reshape(-1, 24)
        head[:, 61] = ord('"')

        def pick(frag: pa.Array, idx: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
            return frag.take(pa.array(idx, mask=missing))

        parts = [
            fixed_width(head),
            pick(f["etype"], s.etype[g]),
            pick(f["query"], np.maximum(query, 0), query < 0),
            pick(f["pos"], pos, pos <= 0),
            pick(f["spons"], np.maximum(spons, 0), spons < 0),
            pick(f["item"], np.maximum(item, 0), item < 0),
            pick(f["sess"], s.sess[g]),
        ]
        return pc.binary_join_element_wise(*parts, "", null_handling="skip")


@dataclasses.dataclass
class _Injection:
    """Extra rows for one date's file, as copies of base rows with defects."""

    src: np.ndarray  # index (within the date) of the copied / template row
    after: np.ndarray  # written right after this base row (-1: first)
    counter: np.ndarray  # event-id counter (a copy keeps its source's)
    kind: np.ndarray  # index into _ROW_KINDS
    user_mode: np.ndarray
    ts_mode: np.ndarray
    price_mode: np.ndarray


_ROW_KINDS: tuple[str, ...] = (*MALFORMED_KINDS, "exact_duplicate", "conflicting_duplicate")
_K = {k: i for i, k in enumerate(_ROW_KINDS)}


def _plan_injection(
    rng: np.random.Generator,
    n: int,
    has_price: np.ndarray,
    first_counter: int,
    base_counter: int,
    profile: Profile,
) -> _Injection:
    """Decide every injected row of a date (all kinds, whatever the format: see _keep)."""
    src, after, counter, kind, user_mode, ts_mode, price_mode = ([] for _ in range(7))
    next_counter = first_counter
    per_kind = profile.malformed_rate / len(MALFORMED_KINDS)

    def add(
        k: str,
        rows: np.ndarray,
        aft: np.ndarray,
        ctr: np.ndarray,
        um: int = 0,
        tm: np.ndarray | int = 0,
        pm: int = 0,
    ) -> None:
        m = rows.size
        src.append(rows)
        after.append(aft)
        counter.append(ctr)
        kind.append(np.full(m, _K[k]))
        user_mode.append(
            np.full(m, um)
            if um != _USER_NULL
            else np.where(np.arange(m) % 2 == 0, _USER_NULL, _USER_EMPTY)
        )
        ts_mode.append(np.broadcast_to(np.asarray(tm), (m,)))
        price_mode.append(np.full(m, pm))

    for k in MALFORMED_KINDS:
        m = _count(rng, n, per_kind, profile.min_injected_per_kind)
        rows = rng.integers(0, n, m)
        aft = rng.integers(-1, n, m)
        ctr = np.arange(next_counter, next_counter + m)
        next_counter += m
        if k == "missing_required_field":
            add(k, rows, aft, ctr, um=_USER_NULL)
        elif k == "unparseable_timestamp":
            add(k, rows, aft, ctr, tm=1 + np.arange(m) % 2)
        elif k == "timestamp_out_of_range":
            add(k, rows, aft, ctr, tm=_TS_1999)
        elif k == "invalid_price":
            add(k, rows, aft, ctr, pm=_PRICE_NEGATIVE)
        else:  # JSON-only kinds, rendered as text later
            add(k, rows, aft, ctr)

    n_dup = min(_count(rng, n, profile.duplicate_rate, profile.min_injected_per_kind), n)
    orig = np.sort(rng.choice(n, n_dup, replace=False)) if n_dup else np.zeros(0, np.int64)
    add("exact_duplicate", orig, rng.integers(orig, n), base_counter + orig)
    eligible = has_price.copy()
    eligible[orig] = False
    candidates = np.flatnonzero(eligible)
    n_conf = min(
        _count(rng, n, profile.conflicting_duplicate_rate, profile.min_injected_per_kind),
        candidates.size,
    )
    conf = np.sort(rng.choice(candidates, n_conf, replace=False)) if n_conf else orig[:0]
    add(
        "conflicting_duplicate",
        conf,
        rng.integers(conf, n),
        base_counter + conf,
        pm=_PRICE_CONFLICT,
    )
    cat = [
        np.concatenate(x).astype(np.int64)
        for x in (src, after, counter, kind, user_mode, ts_mode, price_mode)
    ]
    order = np.argsort(cat[1], kind="stable")
    return _Injection(*(c[order] for c in cat))


def _count(rng: np.random.Generator, n: int, rate: float, minimum: int) -> int:
    return 0 if n == 0 else max(minimum, int(rng.binomial(n, rate)))


def _raw_lines(table: pa.Table, kinds: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Text-only defects: a truncated record, or a field of the wrong JSON type."""
    out = []
    for j, (rec, k) in enumerate(zip(table.to_pylist(), kinds, strict=True)):
        rec = {key: v for key, v in rec.items() if v is not None}
        if _ROW_KINDS[k] == "invalid_value":
            if j % 2 == 0:
                rec["position"] = "abc"
            else:
                rec["is_sponsored"] = "maybe"
            out.append(json.dumps(rec, separators=(",", ":")) + "\n")
        else:  # malformed_record: cut before the closing brace
            full = json.dumps(rec, separators=(",", ":"))
            out.append(full[: int(rng.integers(len(full) // 3, len(full) - 1))] + "\n")
    return out


def _write_date(
    path: Path,
    fmt: str,
    cols: _Columns,
    lo: int,
    hi: int,
    inj: _Injection,
    rng: np.random.Generator,
) -> None:
    """Write one date's rows: base rows in time order with the injected rows spliced in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = hi - lo
    if fmt == "parquet":
        keys = np.concatenate([2 * np.arange(n), 2 * inj.after + 1])
        order = np.argsort(keys, kind="stable")

        def cat(base: np.ndarray, extra: np.ndarray) -> np.ndarray:
            return np.concatenate([base, extra])[order]

        zeros = np.zeros(n, dtype=np.int64)
        table = cols.rows(
            lo + cat(np.arange(n), inj.src),
            cat(np.arange(lo, hi), inj.counter),
            cat(zeros, inj.user_mode),
            cat(zeros, inj.ts_mode),
            cat(zeros, inj.price_mode),
        )
        pq.write_table(
            table,
            path,
            row_group_size=_CHUNK,
            # random hex ids do not compress: spare the codec the effort
            compression={c: "none" if c == "event_id" else "snappy" for c in table.column_names},
            store_schema=False,
            use_dictionary=[c for c in table.column_names if c not in ("event_id", "ts")],
            write_statistics=False,
        )
        return
    # JSON: lines for the injected rows first, then stream the base rows around them
    lines: list[bytes] = [b""] * inj.src.size
    dup = inj.kind == _K["exact_duplicate"]
    raw = (inj.kind == _K["malformed_record"]) | (inj.kind == _K["invalid_value"])
    typed = ~dup & ~raw
    if dup.any():
        arr = cols.json_lines(lo + inj.src[dup], inj.counter[dup])
        for j, line in zip(np.flatnonzero(dup), arr.to_pylist(), strict=True):
            lines[j] = line.encode()
    if typed.any():
        t = cols.rows(
            lo + inj.src[typed],
            inj.counter[typed],
            inj.user_mode[typed],
            inj.ts_mode[typed],
            inj.price_mode[typed],
        )
        arr = json_lines(t)
        for j, line in zip(np.flatnonzero(typed), arr.to_pylist(), strict=True):
            lines[j] = line.encode()
    if raw.any():
        t = cols.rows(lo + inj.src[raw], inj.counter[raw])
        for j, line in zip(np.flatnonzero(raw), _raw_lines(t, inj.kind[raw], rng), strict=True):
            lines[j] = line.encode()
    k = 0
    with open(path, "wb") as fh:
        while k < inj.after.size and inj.after[k] < 0:
            fh.write(lines[k])
            k += 1
        for a in range(0, n, _JSON_CHUNK):
            b = min(n, a + _JSON_CHUNK)
            base = cols.json_lines(np.arange(lo + a, lo + b), np.arange(lo + a, lo + b))
            ptr = a
            while k < inj.after.size and inj.after[k] < b:
                stop = int(inj.after[k]) + 1
                fh.write(string_bytes(base, ptr - a, stop - a))
                fh.write(lines[k])
                ptr = stop
                k += 1
            fh.write(string_bytes(base, ptr - a, b - a))


def _prepare_out_dir(out_dir: Path, keep_other_files: bool = False) -> None:
    """Create the folder; replace only a previous generator output, never other files.

    Other files in the folder are an error unless ``keep_other_files`` (the demo's storage
    root, where the pipeline's tables, run summaries and MLflow store live beside the data).
    """
    if out_dir.exists():
        entries = {p.name for p in out_dir.iterdir()}
        if entries - _OUTPUTS and not keep_other_files:
            raise FileExistsError(
                f"{out_dir} holds files the generator did not write "
                f"({sorted(entries - _OUTPUTS)[:5]}); choose an empty or new folder"
            )
        for name in ("raw", "labels"):
            shutil.rmtree(out_dir / name, ignore_errors=True)
        (out_dir / MANIFEST_FILE).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def _fingerprint(sim: Simulation, seed: int) -> str:
    """sha256 of what the well-formed events and labels are made of, independent of format."""
    h = hashlib.sha256()
    s = sim
    # fixed storage types, so that the digest does not move with internal dtype choices
    for arr, dtype in (
        (s.ts, "<i8"),
        (s.user, "<i4"),
        (s.etype, "i1"),
        (s.item, "<i4"),
        (s.pos, "<i2"),
        (s.spons, "i1"),
        (s.query, "<i4"),
        (s.kind, "i1"),
        (s.sess, "<i4"),
        (s.s_device, "<u8"),
        (s.s_ip, "<u4"),
        (s.s_ua, "<i2"),
        (s.s_channel, "i1"),
        (s.catalog.item_cat, "<i4"),
        (s.catalog.item_price, "<f8"),
    ):
        h.update(np.ascontiguousarray(arr, dtype=dtype))
    for texts in (s.catalog.query_text, UA_LIST, CHANNELS, EVENT_TYPES, FRAUD_TYPES):
        h.update("\n".join(texts).encode())
    h.update(string_bytes(s.user_ids))
    h.update(str(seed).encode())
    return h.hexdigest()


def generate(
    profile: Profile | str,
    out_dir: str | Path,
    fmt: str = "json",
    overrides: Mapping[str, Any] | None = None,
    heavy_user_events: int = 0,
    singleton_users: int = 0,
    keep_other_files: bool = False,
) -> Manifest:
    """Generate a profile's data set into ``out_dir`` and return (and write) its manifest.

    ``overrides`` are dotted-key field replacements (see ``profiles.with_overrides``); every
    difference from the registered profile of the same name is recorded in the manifest.
    ``heavy_user_events`` adds one click bot ``heavy_bot_0`` with that many events on the first
    date (skew tests); ``singleton_users`` adds users ``single_000000``... with one event each.
    ``keep_other_files``: write beside files the generator did not make (left untouched).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if heavy_user_events < 0 or singleton_users < 0:
        raise ValueError("heavy_user_events and singleton_users must be >= 0")
    base = get_profile(profile) if isinstance(profile, str) else profile
    prof = with_overrides(base, overrides)
    registered = PROFILES.get(prof.name)
    extra: dict[str, Any] = {"planned_fraud_users_per_type": fraud_allocation(prof)}
    if registered is not None and registered.version == prof.version:
        recorded = profile_diff(registered, prof)
    else:  # not a registered profile: keep every parameter to stay reproducible
        recorded = {k: to_jsonable(v) for k, v in (overrides or {}).items()}
        extra["profile_params"] = dataclasses.asdict(prof)
    out = Path(out_dir)
    _prepare_out_dir(out, keep_other_files)

    sim = simulate(prof, heavy_user_events, singleton_users)
    cols = _Columns(sim, prof.seed)
    if fmt == "json":
        cols.prepare_json()
    inject_rng = np.random.default_rng(np.random.SeedSequence([int(prof.seed), 0x1BAD]))
    dates = [
        str(np.datetime64(sim.start_ms + d * MS_PER_DAY, "ms").astype("datetime64[D]"))
        for d in range(sim.days)
    ]
    bounds = np.searchsorted(sim.ts, sim.start_ms + np.arange(sim.days + 1) * MS_PER_DAY)
    counter = int(sim.ts.size)
    plans: list[_Injection] = []
    for d in range(sim.days):
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        inj = _plan_injection(inject_rng, hi - lo, sim.item[lo:hi] >= 0, counter, lo, prof)
        counter += int((inj.kind < len(MALFORMED_KINDS)).sum())
        if fmt != "json":
            inj = _keep(inj, ~np.isin(inj.kind, [_K[k] for k in JSON_ONLY_KINDS]))
        plans.append(inj)
    raw_files = {date: f"raw/date={date}/part-00000.{_SUFFIX[fmt]}" for date in dates}

    def write(d: int) -> None:
        text_rng = np.random.default_rng(np.random.SeedSequence([int(prof.seed), 0x7E47, d]))
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        _write_date(out / raw_files[dates[d]], fmt, cols, lo, hi, plans[d], text_rng)

    (out / "labels").mkdir(parents=True, exist_ok=True)
    labels_rel = "labels/part-00000.parquet"
    # dates are independent: write them on all cores (Arrow and numpy release the GIL)
    with ThreadPoolExecutor(max_workers=max(1, min(_WRITERS, sim.days))) as pool:
        pending = [pool.submit(write, d) for d in range(sim.days)]
        with pq.ParquetWriter(
            out / labels_rel,
            cols.labels_schema,
            compression="snappy",
            store_schema=False,
            write_statistics=["date", "is_fraud", "fraud_type"],
        ) as labels_writer:
            for d in range(sim.days):
                labels_writer.write_table(cols.labels(int(bounds[d]), int(bounds[d + 1])))
        fingerprint = _fingerprint(sim, prof.seed)
        for job in pending:
            job.result()

    events_per_date: dict[str, int] = {}
    rows_per_date: dict[str, int] = {}
    malformed_per_date: dict[str, dict[str, int]] = {}
    dup_per_date: dict[str, int] = {}
    conf_per_date: dict[str, int] = {}
    for d, date in enumerate(dates):
        inj = plans[d]
        events_per_date[date] = int(bounds[d + 1] - bounds[d])
        rows_per_date[date] = events_per_date[date] + int(inj.src.size)
        kinds = np.bincount(inj.kind, minlength=len(_ROW_KINDS))
        malformed_per_date[date] = {k: int(kinds[_K[k]]) for k in MALFORMED_KINDS}
        dup_per_date[date] = int(kinds[_K["exact_duplicate"]])
        conf_per_date[date] = int(kinds[_K["conflicting_duplicate"]])

    fraud_users: dict[str, int] = {}
    fraud_events: dict[str, int] = {}
    n_user_ids = len(sim.user_ids)
    for code, t in enumerate(FRAUD_TYPES, start=1):
        m = sim.kind == code
        fraud_events[t] = int(m.sum())
        fraud_users[t] = _distinct(sim.user[m], n_user_ids)
    is_fraud = sim.kind > 0
    malformed_total = {
        k: sum(v.get(k, 0) for v in malformed_per_date.values()) for k in MALFORMED_KINDS
    }
    manifest = Manifest(
        profile=prof.name,
        profile_version=prof.version,
        seed=prof.seed,
        overrides=recorded,
        format=fmt,
        start_date=prof.start_date,
        dates=dates,
        raw_files=raw_files,
        labels_file=labels_rel,
        events=int(sim.ts.size),
        events_per_date=events_per_date,
        rows_written_per_date=rows_per_date,
        users=_distinct(sim.user, n_user_ids),
        fraud_users=_distinct(sim.user[is_fraud], n_user_ids),
        fraud_events=int(is_fraud.sum()),
        fraud_users_per_type=fraud_users,
        fraud_events_per_type=fraud_events,
        malformed_per_reason=malformed_total,
        malformed_per_date=malformed_per_date,
        exact_duplicates=sum(dup_per_date.values()),
        exact_duplicates_per_date=dup_per_date,
        conflicting_duplicates=sum(conf_per_date.values()),
        conflicting_duplicates_per_date=conf_per_date,
        heavy_user_events=heavy_user_events,
        singleton_users=singleton_users,
        content_sha256=fingerprint,
        extra=extra,
    )
    manifest.write(out)
    return manifest


def _keep(inj: _Injection, mask: np.ndarray) -> _Injection:
    return _Injection(*(getattr(inj, f.name)[mask] for f in dataclasses.fields(inj)))


def _distinct(values: np.ndarray, size: int) -> int:
    return int(np.count_nonzero(np.bincount(values, minlength=size)))


def content_fingerprint(
    profile: Profile | str,
    overrides: Mapping[str, Any] | None = None,
    heavy_user_events: int = 0,
    singleton_users: int = 0,
) -> str:
    """The manifest's ``content_sha256`` for these inputs, computed in memory (no files).

    Tests pin it per registered profile, so that an accidental change to what a frozen profile
    generates fails loudly.
    """
    base = get_profile(profile) if isinstance(profile, str) else profile
    prof = with_overrides(base, overrides)
    return _fingerprint(simulate(prof, heavy_user_events, singleton_users), prof.seed)


def estimate_events_per_user_day(profile: Profile) -> float:
    """Events per pool user and day, from an in-memory pilot of up to 2 days and 1500 users."""
    pilot = dataclasses.replace(
        profile, days=min(profile.days, 2), n_users=min(profile.n_users, 1500)
    )
    sim = simulate(pilot)
    return max(sim.ts.size / (pilot.n_users * pilot.days), 1e-9)
