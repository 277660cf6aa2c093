"""The synthetic clickstream generator: contract, determinism, labels, fraud behavior, injection."""

from __future__ import annotations

import dataclasses
import doctest
import hashlib
import json
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import ubsd.synth
from ubsd.synth import (
    FRAUD_TYPES,
    PROFILES,
    Manifest,
    _plan,
    generate,
    get_profile,
    profiles,
    scaled,
)
from ubsd.synth.cli import main as cli_main
from ubsd.synth.generator import (
    LABELS_ARROW_SCHEMA,
    RAW_ARROW_SCHEMA,
    content_fingerprint,
)
from ubsd.synth.profiles import MALFORMED_KINDS, with_overrides

#: Content fingerprints of the registered profiles. A registered profile is frozen: if one of
#: these changes, the generator changed what an existing profile produces. Revert that, or
#: register a new profile version and pin its fingerprint here (never edit an old entry).
FROZEN_FINGERPRINTS = {
    "ci": "40c15ad99faaf82b8ce7ec81f5dec90e979039cfcd01645a5f1d8ddf79145a25",
    "demo": "749d95444282158892c1f2a4c3a3b965b4936c6ed8541dcf47a1e267543b5f4a",
    "benchmark-v1": "bd0fd35fb7b43ebedb39afe7017cd46e8a192f71871f4508b81fba5171a80cda",
}

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SESSION_GAP_MS = 30 * 60 * 1000


# --- helpers ---------------------------------------------------------------------------------
def _raw_records(path: Path) -> list[dict | None]:
    """Rows of a raw file in file order; None for a line that is not a JSON object."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    out: list[dict | None] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            rec = None
        out.append(rec if isinstance(rec, dict) else None)
    return out


def _classify(rec: dict | None, day: date, seen: dict[str, str]) -> str | None:
    """A reference of ingest's rules (first reason that applies, in QUARANTINE_REASONS order).

    Returns the reason, "duplicate" for an exact copy of an accepted row, or None if accepted.
    """
    if rec is None:
        return "malformed_record"
    if any(rec.get(f) in (None, "") for f in ("event_id", "user_id", "ts", "event_type")):
        return "missing_required_field"
    try:
        ts = datetime.fromisoformat(rec["ts"])
    except ValueError:
        return "unparseable_timestamp"
    if ts < datetime(2000, 1, 1, tzinfo=UTC):
        return "timestamp_out_of_range"
    if ts.date() != day:
        return "wrong_date"
    pos, spons, price = rec.get("position"), rec.get("is_sponsored"), rec.get("price")
    if pos is not None and (isinstance(pos, bool) or not isinstance(pos, int)):
        return "invalid_value"
    if spons is not None and not isinstance(spons, bool):
        return "invalid_value"
    if price is not None and (price < 0 or not math.isfinite(price)):
        return "invalid_price"
    canon = json.dumps({k: v for k, v in rec.items() if v is not None}, sort_keys=True)
    previous = seen.get(rec["event_id"])
    if previous is not None:
        return "duplicate" if previous == canon else "conflicting_duplicate"
    seen[rec["event_id"]] = canon
    return None


def _events(out: Path, m: Manifest) -> pd.DataFrame:
    """Well-formed events (first occurrence of each labelled event_id) joined with labels."""
    labels = pq.read_table(out / m.labels_file).to_pandas()
    frames = []
    for d, rel in m.raw_files.items():
        recs = [r for r in _raw_records(out / rel) if r is not None]
        df = pd.DataFrame.from_records(recs)
        df["file_date"] = d
        frames.append(df)
    raw = pd.concat(frames, ignore_index=True).drop_duplicates("event_id", keep="first")
    ev = raw.merge(labels.drop(columns=["user_id"]), on="event_id", how="inner")
    ev["t"] = pd.to_datetime(ev["ts"], utc=True).astype("int64") // 10**6
    ev = ev.sort_values(["user_id", "t"], kind="stable").reset_index(drop=True)
    gap = ev["t"].diff().where(ev["user_id"].eq(ev["user_id"].shift()))
    ev["session"] = (gap.isna() | (gap > SESSION_GAP_MS)).cumsum()
    ev["gap_s"] = gap.where(gap <= SESSION_GAP_MS) / 1000
    return ev


def _digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def ci_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("ci_json")
    return out, generate(get_profile("ci"), out, fmt="json")


@pytest.fixture(scope="module")
def ci_parquet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("ci_parquet")
    return out, generate("ci", out, fmt="parquet")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest, pd.DataFrame]:
    out = tmp_path_factory.mktemp("demo")
    m = generate(get_profile("demo"), out, fmt="parquet")
    return out, m, _events(out, m)


# --- contract --------------------------------------------------------------------------------
def test_constants_follow_the_schemas_module() -> None:
    from ubsd.io import schemas

    assert set(MALFORMED_KINDS) <= set(schemas.QUARANTINE_REASONS)
    assert "conflicting_duplicate" in schemas.QUARANTINE_REASONS
    assert tuple(RAW_ARROW_SCHEMA.names) == schemas.RAW_FIELDS
    assert tuple(LABELS_ARROW_SCHEMA.names) == tuple(f.name for f in schemas.LABELS_SCHEMA.fields)
    from ubsd.synth._sim import EVENT_TYPES

    assert EVENT_TYPES == schemas.KNOWN_EVENT_TYPES
    spark_of = {
        "string": "StringType",
        "int32": "IntegerType",
        "bool": "BooleanType",
        "double": "DoubleType",
    }
    for field in schemas.RAW_EVENT_SCHEMA.fields:
        arrow = str(RAW_ARROW_SCHEMA.field(field.name).type)
        if field.name != "ts":
            assert type(field.dataType).__name__ == spark_of[arrow], field.name


def test_layout_and_parquet_types(ci_parquet: tuple[Path, Manifest]) -> None:
    out, m = ci_parquet
    assert sorted(p.name for p in out.iterdir()) == ["labels", "manifest.json", "raw"]
    for d in m.dates:
        assert (out / f"raw/date={d}/part-00000.parquet").is_file()
    raw = pq.read_table(out / m.raw_files[m.dates[0]])
    assert raw.schema.names == RAW_ARROW_SCHEMA.names
    assert [str(t) for t in raw.schema.types] == [str(t) for t in RAW_ARROW_SCHEMA.types]
    labels = pq.read_table(out / m.labels_file)
    assert [str(t) for t in labels.schema.types] == [
        "string",
        "string",
        "bool",
        "string",
        "date32[day]",
    ]


def test_json_lines_omit_absent_fields(ci_json: tuple[Path, Manifest]) -> None:
    out, m = ci_json
    first = (out / m.raw_files[m.dates[0]]).read_text().splitlines()[0]
    rec = json.loads(first)
    assert all(v is not None for v in rec.values())
    assert TS_RE.match(rec["ts"]) and re.fullmatch(r"[0-9a-f]{16}", rec["event_id"])


# --- determinism -----------------------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_other_data(
    tmp_path: Path, ci_json: tuple[Path, Manifest]
) -> None:
    out, m = ci_json
    again = generate("ci", tmp_path / "again", fmt="json")
    assert again == m
    assert _digest(tmp_path / "again") == _digest(out)
    other = generate("ci", tmp_path / "other", fmt="json", overrides={"seed": 8})
    assert other.content_sha256 != m.content_sha256
    assert other.overrides == {"seed": 8}
    day_one = m.raw_files[m.dates[0]]
    assert (tmp_path / "other" / day_one).read_bytes() != (out / day_one).read_bytes()


def test_json_output_does_not_depend_on_chunking(
    tmp_path: Path, ci_json: tuple[Path, Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ubsd.synth import generator

    monkeypatch.setattr(generator, "_JSON_CHUNK", 97)
    generate("ci", tmp_path, fmt="json")
    assert _digest(tmp_path) == _digest(ci_json[0])


def test_formats_hold_the_same_events(
    ci_json: tuple[Path, Manifest], ci_parquet: tuple[Path, Manifest]
) -> None:
    (oj, mj), (op, mp) = ci_json, ci_parquet
    assert mj.content_sha256 == mp.content_sha256
    assert mj.events_per_date == mp.events_per_date
    assert mp.malformed_per_reason["malformed_record"] == 0
    assert mp.malformed_per_reason["invalid_value"] == 0
    lj = pq.read_table(oj / mj.labels_file)
    assert lj.equals(pq.read_table(op / mp.labels_file))


@pytest.mark.parametrize("name", sorted(FROZEN_FINGERPRINTS))
def test_registered_profiles_are_frozen(name: str) -> None:
    assert set(FROZEN_FINGERPRINTS) == set(PROFILES)
    assert content_fingerprint(name) == FROZEN_FINGERPRINTS[name], (
        f"profile {name!r} now generates different data: registered profiles are frozen "
        "(see ubsd.synth.profiles); add a new version instead"
    )


# --- manifest, labels, injection -------------------------------------------------------------
def test_manifest_round_trip_and_row_arithmetic(ci_json: tuple[Path, Manifest]) -> None:
    out, m = ci_json
    assert Manifest.from_json(m.to_json()) == m
    assert Manifest.read(out) == m
    assert m.profile == "ci" and m.profile_version == 1 and m.overrides == {}
    assert sum(m.events_per_date.values()) == m.events
    for d in m.dates:
        assert m.rows_written_per_date[d] == (
            m.events_per_date[d]
            + sum(m.malformed_per_date[d].values())
            + m.exact_duplicates_per_date[d]
            + m.conflicting_duplicates_per_date[d]
        )
        # ci injects every kind on every date
        assert all(n >= 1 for n in m.malformed_per_date[d].values())
        assert m.exact_duplicates_per_date[d] >= 1 and m.conflicting_duplicates_per_date[d] >= 1
    assert sum(m.fraud_events_per_type.values()) == m.fraud_events


@pytest.mark.parametrize("fixture", ["ci_json", "ci_parquet"])
def test_files_match_manifest_under_ingest_rules(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    out, m = request.getfixturevalue(fixture)
    labels = pq.read_table(out / m.labels_file).to_pandas()
    assert labels["event_id"].is_unique and len(labels) == m.events
    for d in m.dates:
        recs = _raw_records(out / m.raw_files[d])
        assert len(recs) == m.rows_written_per_date[d]
        seen: dict[str, str] = {}
        reasons: dict[str, int] = {}
        accepted = []
        for rec in recs:
            r = _classify(rec, date.fromisoformat(d), seen)
            if r is None:
                accepted.append(rec["event_id"])  # type: ignore[index]
                assert TS_RE.match(rec["ts"])  # type: ignore[index]
            else:
                reasons[r] = reasons.get(r, 0) + 1
        assert reasons.pop("duplicate", 0) == m.exact_duplicates_per_date[d]
        assert reasons == m.expected_quarantine(d)
        assert len(accepted) == m.events_per_date[d]
        day_labels = labels[labels["date"] == date.fromisoformat(d)]
        assert sorted(accepted) == sorted(day_labels["event_id"])


def test_duplicates_are_verbatim_and_follow_their_original(ci_json: tuple[Path, Manifest]) -> None:
    out, m = ci_json
    for d in m.dates:
        lines = (out / m.raw_files[d]).read_bytes().splitlines()
        first_line: dict[bytes, int] = {}
        first_id: dict[str, int] = {}
        verbatim = conflicting = 0
        for i, line in enumerate(lines):
            if line in first_line:
                verbatim += 1
                continue
            first_line[line] = i
            try:
                eid = json.loads(line)["event_id"]
            except json.JSONDecodeError:
                continue
            if eid in first_id:
                conflicting += 1
                assert first_id[eid] < i
            else:
                first_id[eid] = i
        assert verbatim == m.exact_duplicates_per_date[d]
        assert conflicting == m.conflicting_duplicates_per_date[d]


def test_injected_rows_sit_on_their_files_date(ci_json: tuple[Path, Manifest]) -> None:
    out, m = ci_json
    bad_words = {"yesterday", "not-a-timestamp"}
    for d in m.dates:
        for rec in _raw_records(out / m.raw_files[d]):
            if rec is None or rec.get("ts") in bad_words or rec["ts"].startswith("1999-"):
                continue
            assert rec["ts"][:10] == d


def test_labels_are_per_event(demo: tuple[Path, Manifest, pd.DataFrame]) -> None:
    _, m, ev = demo
    assert len(ev) == m.events
    assert (ev["date"].astype(str) == ev["file_date"]).all()
    assert ev.loc[~ev["is_fraud"], "fraud_type"].isna().all()
    assert set(ev.loc[ev["is_fraud"], "fraud_type"]) == set(FRAUD_TYPES)


# --- prevalence and behavior -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["ci", "demo"])
def test_every_fraud_type_present(name: str, ci_json: tuple[Path, Manifest], demo: tuple) -> None:
    m = ci_json[1] if name == "ci" else demo[1]
    plan = _plan.fraud_allocation(get_profile(name))
    assert m.fraud_users_per_type == plan
    assert all(m.fraud_events_per_type[t] > 0 for t in FRAUD_TYPES)
    if name == "demo":  # big enough that the configured prevalence holds
        p = get_profile(name)
        assert sum(plan.values()) == round(p.fraud_prevalence * p.n_users)


def _of(ev: pd.DataFrame, fraud_type: str) -> pd.DataFrame:
    return ev[ev["fraud_type"] == fraud_type]


def _session_stats(ev: pd.DataFrame) -> pd.DataFrame:
    g = ev.groupby("session")
    stats = pd.DataFrame(
        {
            "n": g.size(),
            "minutes": (g["t"].max() - g["t"].min()) / 60_000,
            "cv": g["gap_s"].std() / g["gap_s"].mean(),
        }
    )
    stats["rate"] = stats["n"] / stats["minutes"].clip(lower=1 / 60)
    return stats[stats["n"] >= 5]


def test_click_bots_are_fast_and_regular(demo: tuple[Path, Manifest, pd.DataFrame]) -> None:
    ev = demo[2]
    bots = _session_stats(_of(ev, "click_bot"))
    normal = _session_stats(ev[~ev["is_fraud"]])
    assert bots["cv"].max() < 0.25
    assert normal["cv"].median() > 1.0
    assert bots["rate"].median() > 3 * normal["rate"].median()
    b = _of(ev, "click_bot")
    assert set(b["event_type"]) <= {"click", "ad_click"} and b["is_sponsored"].all()


def test_scrapers_walk_the_catalog_without_shopping(
    demo: tuple[Path, Manifest, pd.DataFrame],
) -> None:
    ev = demo[2]
    s = _of(ev, "scraper")
    assert set(s["event_type"]) == {"view"}
    assert s["gap_s"].median() < 2 < ev.loc[~ev["is_fraud"], "gap_s"].quantile(0.75)
    step = s.groupby("session")["item_id"].apply(
        lambda x: (x.str[1:].astype(int).diff().dropna() == 1).mean()
    )
    assert step.min() > 0.95


def test_brushing_buys_cheap_without_browsing(demo: tuple[Path, Manifest, pd.DataFrame]) -> None:
    ev = demo[2]
    b = _of(ev, "brushing")
    assert {"purchase"} <= set(b["event_type"]) <= {"add_to_cart", "purchase"}
    for _, sess in b.groupby("session"):
        assert not sess["event_type"].isin(["view", "search", "click"]).any()
    normal_buys = ev[~ev["is_fraud"] & (ev["event_type"] == "purchase")]
    assert b.loc[b["event_type"] == "purchase", "price"].max() < normal_buys["price"].median()


def test_ad_click_spam_hits_one_listing(demo: tuple[Path, Manifest, pd.DataFrame]) -> None:
    s = _of(demo[2], "ad_click_spam")
    ads = s[s["event_type"] == "ad_click"]
    assert len(ads) >= 10
    assert (ads.groupby("user_id")["item_id"].nunique() == 1).all()
    assert ads["is_sponsored"].all()


def test_click_farm_accounts_share_few_items(demo: tuple[Path, Manifest, pd.DataFrame]) -> None:
    ev = demo[2]
    f = _of(ev, "click_farm")
    clicked = f[f["event_type"] == "click"]
    users = clicked["user_id"].unique()
    assert len(users) >= 3
    per_user = clicked.groupby("user_id")["item_id"].agg(set)
    assert len(set.union(*per_user)) <= get_profile("demo").click_farm.target_items * 2
    for u, items in per_user.items():
        assert any(items & other for v, other in per_user.items() if v != u)
    hours = f.assign(h=f["t"] // 3_600_000).groupby("h")["user_id"].nunique()
    assert hours.max() >= 2  # members active in the same hour


def test_account_takeover_labels_only_after_takeover(
    demo: tuple[Path, Manifest, pd.DataFrame],
) -> None:
    ev = demo[2]
    for user in ev.loc[ev["fraud_type"] == "account_takeover", "user_id"].unique():
        u = ev[ev["user_id"] == user]
        before, after = u[~u["is_fraud"]], u[u["is_fraud"]]
        assert len(before) > 0 and len(after) > 0
        assert before["t"].max() < after["t"].min()
        assert after["date"].min() > before["date"].min()
        assert not set(after["device_id"]) & set(before["device_id"])
        assert not set(after["ip"]) & set(before["ip"])
        assert (after["event_type"] == "purchase").any()
        assert (
            after.loc[after["event_type"] == "purchase", "price"].min()
            > ev.loc[~ev["is_fraud"] & (ev["event_type"] == "purchase"), "price"].median()
        )


def test_normal_shoppers_look_like_shoppers(demo: tuple[Path, Manifest, pd.DataFrame]) -> None:
    ev = demo[2]
    n = ev[~ev["is_fraud"]]
    counts = n["event_type"].value_counts()
    assert counts["impression"] > counts["click"] + counts["ad_click"] > counts["purchase"] > 0
    imps = n[n["event_type"] == "impression"]
    assert 0.05 < imps["is_sponsored"].mean() < 0.2
    assert imps["position"].min() == 1
    # fixed per item: one category and one price
    assert (
        (n.dropna(subset=["item_id"]).groupby("item_id")[["category_id", "price"]].nunique() == 1)
        .all()
        .all()
    )
    # stable identity: most users keep one device
    assert (n.groupby("user_id")["device_id"].nunique() == 1).mean() > 0.9
    # evening peak (UTC)
    hours = pd.to_datetime(n["t"], unit="ms").dt.hour.value_counts()
    assert hours.loc[[18, 19, 20, 21]].mean() > 2 * hours.loc[[2, 3, 4, 5]].mean()
    # users return on several days
    assert (n.groupby("user_id")["date"].nunique() > 1).mean() > 0.3


def test_benchmark_is_not_solved_by_rate_or_regularity() -> None:
    """benchmark-v1 must stay hard: simple timing rules score far below PR-AUC 0.9."""
    sim = _plan.simulate(get_profile("benchmark-v1"))
    df = pd.DataFrame({"user": sim.user, "t": sim.ts, "fraud": sim.kind > 0})
    df = df.sort_values(["user", "t"], kind="stable")
    gap = df["t"].diff().where(df["user"].eq(df["user"].shift()))
    df["session"] = (gap.isna() | (gap > SESSION_GAP_MS)).cumsum()
    df["gap_s"] = gap.where(gap <= SESSION_GAP_MS) / 1000
    g = df.groupby("session")
    n = g.size()
    minutes = ((g["t"].max() - g["t"].min()) / 60_000).clip(lower=1 / 60)
    cv = (g["gap_s"].std() / g["gap_s"].mean()).fillna(10.0)
    y = g["fraud"].max().to_numpy()

    def average_precision(score: np.ndarray) -> float:
        order = np.argsort(-score, kind="stable")
        hits = y[order]
        precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
        return float(precision[hits].sum() / hits.sum())

    rate = (n / minutes).to_numpy()
    assert average_precision(rate) < 0.5
    assert average_precision(-cv.to_numpy()) < 0.5
    combined = pd.Series(rate).rank(pct=True) + pd.Series(-cv.to_numpy()).rank(pct=True)
    assert average_precision(combined.to_numpy()) < 0.5


# --- options ---------------------------------------------------------------------------------
def test_heavy_user_and_singletons(tmp_path: Path) -> None:
    m = generate("ci", tmp_path, fmt="parquet", heavy_user_events=5000, singleton_users=7)
    labels = pq.read_table(tmp_path / m.labels_file).to_pandas()
    heavy = labels[labels["user_id"] == "heavy_bot_0"]
    assert len(heavy) == 5000 and (heavy["fraud_type"] == "click_bot").all()
    assert (heavy["date"].astype(str) == m.dates[0]).all()
    single = labels[labels["user_id"].str.startswith("single_")]
    assert single["user_id"].nunique() == 7 and len(single) == 7
    assert (single["date"].astype(str) == m.dates[0]).all() and not single["is_fraud"].any()
    assert m.heavy_user_events == 5000 and m.singleton_users == 7
    raw = pq.read_table(tmp_path / m.raw_files[m.dates[0]]).to_pandas()
    assert (raw["user_id"] == "heavy_bot_0").sum() >= 5000  # plus any injected copies
    assert (
        m.fraud_users_per_type["click_bot"]
        == _plan.fraud_allocation(get_profile("ci"))["click_bot"] + 1
    )


def test_overrides_and_scaling_are_recorded(tmp_path: Path) -> None:
    m = generate("ci", tmp_path / "a", overrides={"days": 3, "click_bot.interval_s": 2.0})
    assert m.overrides == {"days": 3, "click_bot.interval_s": 2.0}
    assert len(m.dates) == 3 and m.dates[0] == "2026-11-01"
    big = scaled(get_profile("ci"), 20_000)
    assert big.n_users > get_profile("ci").n_users
    m2 = generate(big, tmp_path / "b", fmt="parquet")
    assert m2.overrides == {"n_users": big.n_users}
    assert 10_000 < m2.events < 40_000


def test_custom_profile_keeps_all_parameters(tmp_path: Path) -> None:
    custom = dataclasses.replace(get_profile("ci"), name="mine", n_users=30)
    m = generate(custom, tmp_path)
    assert m.profile == "mine" and m.extra["profile_params"]["n_users"] == 30


def test_refuses_foreign_folders_but_replaces_own_output(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        generate("ci", tmp_path)
    own = tmp_path / "out"
    generate("ci", own, overrides={"days": 3})
    m = generate("ci", own)
    assert sorted(p.name for p in (own / "raw").iterdir()) == [f"date={d}" for d in m.dates]
    # the demo's root: the pipeline's own files beside the data are kept, untouched
    m = generate("ci", tmp_path, keep_other_files=True)
    assert (tmp_path / "notes.txt").read_text() == "keep me" and m.events > 0


def test_profiles_api() -> None:
    with pytest.raises(KeyError, match="ci, demo, benchmark-v1"):
        get_profile("nope")
    with pytest.raises(KeyError):
        with_overrides(get_profile("ci"), {"no_such_field": 1})
    for p in PROFILES.values():
        mix = dict(p.fraud_mix)
        assert set(mix) == set(FRAUD_TYPES)
    assert set(ubsd.synth.__all__) >= {
        "generate",
        "get_profile",
        "PROFILES",
        "Profile",
        "Manifest",
        "FRAUD_TYPES",
    }
    assert get_profile("ci").days == 2 and get_profile("benchmark-v1").days == 7


def test_docstring_examples() -> None:
    for module in (profiles, _plan):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli_main(
            [
                "--profile",
                "ci",
                "--out",
                str(tmp_path),
                "--format",
                "parquet",
                "--seed",
                "3",
                "--singleton-users",
                "2",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "events/s" in printed and "click_bot" in printed and str(tmp_path) in printed
    m = Manifest.read(tmp_path)
    assert m.seed == 3 and m.singleton_users == 2 and m.format == "parquet"
    assert cli_main(["--profile", "nope", "--out", str(tmp_path / "x")]) == 2
