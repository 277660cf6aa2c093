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
import shutil
from collections.abc import Mapping
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
    hex_strings,
    iso_ms,
    ipv4_strings,
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
    to_jsonable,
    profile_diff,
    with_overrides,
)

FORMATS: tuple[str, ...] = ("json", "parquet")
_SUFFIX = {"json": "jsonl", "parquet": "parquet"}
_CHUNK = 262_144  # rows per JSON write / Parquet row group

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


def _masked(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    return pa.array(values, mask=missing)


class _Columns:
    """Turns the simulation's integer codes into the raw contract's columns, slice by slice."""

    def __init__(self, sim: Simulation, seed: int) -> None:
        self.sim = sim
        self.seed = seed
        cat = sim.catalog
        self.event_types = pa.array(EVENT_TYPES)
        self.item_ids = cat.item_id_strings()
        self.cat_ids = cat.category_id_strings()
        self.queries = pa.array(cat.query_text, type=pa.string())
        self.devices = device_strings(sim.s_device)
        self.ips = ipv4_strings(sim.s_ip)
        self.uas = pa.array(UA_LIST, type=pa.string())
        self.channels = pa.array(CHANNELS, type=pa.string())

    def table(self, lo: int, hi: int) -> pa.Table:
        s = self.sim
        sl = slice(lo, hi)
        item, sess = s.item[sl], s.sess[sl]
        no_item = item < 0
        safe_item = np.where(no_item, 0, item)
        cols = [
            event_ids(np.arange(lo, hi), self.seed),
            s.user_ids.take(pa.array(s.user[sl])),
            iso_ms(s.ts[sl]),
            self.event_types.take(pa.array(s.etype[sl])),
            self.item_ids.take(_masked(safe_item, no_item)),
            self.cat_ids.take(_masked(s.catalog.item_cat[safe_item], no_item)),
            self.queries.take(_masked(np.maximum(s.query[sl], 0), s.query[sl] < 0)),
            _masked(s.pos[sl].astype(np.int32), s.pos[sl] <= 0),
            _masked(s.spons[sl] == 1, s.spons[sl] < 0),
            _masked(s.catalog.item_price[safe_item], no_item),
            self.devices.take(pa.array(sess)),
            self.ips.take(pa.array(sess)),
            self.uas.take(pa.array(s.s_ua[sess])),
            self.channels.take(pa.array(s.s_channel[sess])),
        ]
        cols = [c.cast(f.type) for c, f in zip(cols, RAW_ARROW_SCHEMA, strict=True)]
        return pa.Table.from_arrays(cols, schema=RAW_ARROW_SCHEMA)

    def labels(self, lo: int, hi: int, ids: pa.Array, users: pa.Array) -> pa.Table:
        kind = self.sim.kind[lo:hi]
        days = np.floor_divide(self.sim.ts[lo:hi], MS_PER_DAY).astype(np.int32)
        types = pa.array(FRAUD_TYPES, type=pa.string())
        return pa.Table.from_arrays(
            [
                ids,
                users,
                pa.array(kind > 0),
                types.take(_masked(np.maximum(kind - 1, 0), kind == 0)),
                pa.array(days, type=pa.int32()).cast(pa.date32()),
            ],
            schema=LABELS_ARROW_SCHEMA,
        )


@dataclasses.dataclass
class _Injected:
    typed: pa.Table  # rows representable in the typed schema
    typed_keys: np.ndarray  # 2 * (row they follow) + 1
    raw: list[str]  # JSON-only rows, already serialized (with the newline)
    raw_keys: np.ndarray
    malformed: dict[str, int]
    duplicates: int
    conflicts: int
    next_counter: int


def _replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), values.cast(table.schema.field(i).type))


def _count(rng: np.random.Generator, n: int, rate: float, minimum: int) -> int:
    return 0 if n == 0 else max(minimum, int(rng.binomial(n, rate)))


def _inject(
    rng: np.random.Generator, table: pa.Table, fmt: str, profile: Profile, counter: int,
    seed: int,
) -> _Injected:
    """Bad rows, exact and conflicting duplicates for one date's file."""
    n = table.num_rows
    kinds = [k for k in MALFORMED_KINDS if fmt == "json" or k not in JSON_ONLY_KINDS]
    per_kind = profile.malformed_rate / len(MALFORMED_KINDS)
    typed: list[pa.Table] = []
    typed_keys: list[np.ndarray] = []
    raw: list[str] = []
    raw_keys: list[int] = []
    malformed: dict[str, int] = {}
    for kind in kinds:
        k = _count(rng, n, per_kind, profile.min_injected_per_kind)
        malformed[kind] = k
        if k == 0:
            continue
        rows = table.take(pa.array(rng.integers(0, n, k)))
        rows = _replace(rows, "event_id", event_ids(np.arange(counter, counter + k), seed))
        counter += k
        after = rng.integers(-1, n, k)
        if kind in ("malformed_record", "invalid_value"):
            for j, rec in enumerate(rows.to_pylist()):
                rec = {key: v for key, v in rec.items() if v is not None}
                if kind == "invalid_value":
                    if j % 2 == 0:
                        rec["position"] = "abc"
                    else:
                        rec["is_sponsored"] = "maybe"
                    line = json.dumps(rec, separators=(",", ":"))
                else:
                    full = json.dumps(rec, separators=(",", ":"))
                    cut = int(rng.integers(len(full) // 3, len(full) - 1))
                    line = full[:cut]  # never ends with the closing brace
                raw.append(line + "\n")
                raw_keys.append(2 * int(after[j]) + 1)
            continue
        if kind == "missing_required_field":
            vals = [None if j % 2 == 0 else "" for j in range(k)]
            rows = _replace(rows, "user_id", pa.array(vals, type=pa.string()))
        elif kind == "unparseable_timestamp":
            vals = ["yesterday" if j % 2 == 0 else "not-a-timestamp" for j in range(k)]
            rows = _replace(rows, "ts", pa.array(vals))
        elif kind == "timestamp_out_of_range":
            time_of_day = pc.utf8_slice_codeunits(rows.column("ts"), 10)
            rows = _replace(rows, "ts", pc.binary_join_element_wise("1999-12-31", time_of_day, ""))
        elif kind == "invalid_price":
            price = rows.column("price").to_numpy(zero_copy_only=False)
            price = np.where(np.isnan(price), 9.99, price)
            rows = _replace(rows, "price", pa.array(-np.abs(price) - 0.01))
        typed.append(rows)
        typed_keys.append(2 * after + 1)

    # exact duplicates: a verbatim copy somewhere after the original
    n_dup = min(_count(rng, n, profile.duplicate_rate, profile.min_injected_per_kind), n)
    orig = np.sort(rng.choice(n, n_dup, replace=False)) if n_dup else np.zeros(0, np.int64)
    if n_dup:
        typed.append(table.take(pa.array(orig)))
        typed_keys.append(2 * rng.integers(orig, n) + 1)
    # conflicting duplicates: same event_id and ts, another price, after the original
    has_price = table.column("price").is_valid().to_numpy(zero_copy_only=False)
    candidates = np.setdiff1d(np.flatnonzero(has_price), orig)
    n_conf = min(
        _count(rng, n, profile.conflicting_duplicate_rate, profile.min_injected_per_kind),
        candidates.size,
    )
    if n_conf:
        src = np.sort(rng.choice(candidates, n_conf, replace=False))
        rows = table.take(pa.array(src))
        price = rows.column("price").to_numpy(zero_copy_only=False)
        rows = _replace(rows, "price", pa.array(np.round(price * 1.5 + 1.0, 2)))
        typed.append(rows)
        typed_keys.append(2 * rng.integers(src, n) + 1)
    return _Injected(
        typed=pa.concat_tables(typed) if typed else table.slice(0, 0),
        typed_keys=np.concatenate(typed_keys) if typed_keys else np.zeros(0, np.int64),
        raw=raw,
        raw_keys=np.asarray(raw_keys, dtype=np.int64),
        malformed=malformed,
        duplicates=n_dup,
        conflicts=n_conf,
        next_counter=counter,
    )


def _write_date(path: Path, fmt: str, table: pa.Table, inj: _Injected) -> int:
    """Write base rows and injected rows in their final order; returns rows written."""
    n = table.num_rows
    typed = pa.concat_tables([table, inj.typed]) if inj.typed.num_rows else table
    n_typed = typed.num_rows
    keys = np.concatenate([2 * np.arange(n), inj.typed_keys, inj.raw_keys])
    order = np.argsort(keys, kind="stable")
    raw_arr = pa.array(inj.raw, type=pa.string())
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        with pq.ParquetWriter(path, RAW_ARROW_SCHEMA, compression="snappy") as writer:
            for a in range(0, max(order.size, 1), _CHUNK):
                writer.write_table(typed.take(pa.array(order[a : a + _CHUNK])))
        return order.size
    with open(path, "wb") as fh:
        for a in range(0, order.size, _CHUNK):
            idx = order[a : a + _CHUNK]
            is_raw = idx >= n_typed
            lines = json_lines(typed.take(pa.array(idx[~is_raw])))
            if is_raw.any():
                rank = np.empty(idx.size, dtype=np.int64)
                rank[~is_raw] = np.arange(int((~is_raw).sum()))
                rank[is_raw] = lines.__len__() + np.arange(int(is_raw.sum()))
                extra = raw_arr.take(pa.array(idx[is_raw] - n_typed))
                lines = pa.concat_arrays([lines, extra]).take(pa.array(rank))
            fh.write(string_bytes(lines))
    return order.size


def _prepare_out_dir(out_dir: Path) -> None:
    """Create the folder; replace only a previous generator output, never other files."""
    if out_dir.exists():
        entries = {p.name for p in out_dir.iterdir()}
        if entries - _OUTPUTS:
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
    for arr in (
        s.ts, s.user, s.etype, s.item, s.pos, s.spons, s.query, s.kind,
        s.s_device[s.sess], s.s_ip[s.sess].astype(np.int64), s.s_ua[s.sess], s.s_channel[s.sess],
        s.catalog.item_cat, s.catalog.item_price,
    ):
        h.update(np.ascontiguousarray(arr, dtype=np.int64 if arr.dtype.kind in "iub" else None))
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
) -> Manifest:
    """Generate a profile's data set into ``out_dir`` and return (and write) its manifest.

    ``overrides`` are dotted-key field replacements (see ``profiles.with_overrides``); every
    difference from the registered profile of the same name is recorded in the manifest.
    ``heavy_user_events`` adds one click bot ``heavy_bot_0`` with that many events on the first
    date (skew tests); ``singleton_users`` adds users ``single_000000``... with one event each.
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
    _prepare_out_dir(out)

    sim = simulate(prof, heavy_user_events, singleton_users)
    cols = _Columns(sim, prof.seed)
    inject_rng = np.random.default_rng(np.random.SeedSequence([int(prof.seed), 0x1BAD]))
    dates = [
        str(np.datetime64(sim.start_ms + d * MS_PER_DAY, "ms").astype("datetime64[D]"))
        for d in range(sim.days)
    ]
    bounds = np.searchsorted(sim.ts, sim.start_ms + np.arange(sim.days + 1) * MS_PER_DAY)
    counter = int(sim.ts.size)
    raw_files: dict[str, str] = {}
    events_per_date: dict[str, int] = {}
    rows_per_date: dict[str, int] = {}
    malformed_per_date: dict[str, dict[str, int]] = {}
    dup_per_date: dict[str, int] = {}
    conf_per_date: dict[str, int] = {}
    (out / "labels").mkdir(parents=True, exist_ok=True)
    labels_rel = "labels/part-00000.parquet"
    with pq.ParquetWriter(out / labels_rel, LABELS_ARROW_SCHEMA) as labels_writer:
        for d, date in enumerate(dates):
            lo, hi = int(bounds[d]), int(bounds[d + 1])
            table = cols.table(lo, hi)
            labels_writer.write_table(
                cols.labels(lo, hi, table.column("event_id"), table.column("user_id"))
            )
            inj = _inject(inject_rng, table, fmt, prof, counter, prof.seed)
            counter = inj.next_counter
            rel = f"raw/date={date}/part-00000.{_SUFFIX[fmt]}"
            rows_per_date[date] = _write_date(out / rel, fmt, table, inj)
            raw_files[date] = rel
            events_per_date[date] = hi - lo
            malformed_per_date[date] = inj.malformed
            dup_per_date[date] = inj.duplicates
            conf_per_date[date] = inj.conflicts

    fraud_users: dict[str, int] = {}
    fraud_events: dict[str, int] = {}
    for code, t in enumerate(FRAUD_TYPES, start=1):
        m = sim.kind == code
        fraud_events[t] = int(m.sum())
        fraud_users[t] = int(np.unique(sim.user[m]).size)
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
        users=int(np.unique(sim.user).size),
        fraud_users=int(np.unique(sim.user[is_fraud]).size),
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
        content_sha256=_fingerprint(sim, prof.seed),
        extra=extra,
    )
    manifest.write(out)
    return manifest


def estimate_events_per_user_day(profile: Profile) -> float:
    """Events per pool user and day, from an in-memory pilot of up to 2 days and 1500 users."""
    pilot = dataclasses.replace(
        profile, days=min(profile.days, 2), n_users=min(profile.n_users, 1500)
    )
    sim = simulate(pilot)
    return max(sim.ts.size / (pilot.n_users * pilot.days), 1e-9)
