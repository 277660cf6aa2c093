"""Property-based sessionization invariants (hypothesis), on in-memory DataFrames."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ubsd.config import SessionizeSettings
from ubsd.io.schemas import EVENTS_SCHEMA
from ubsd.sessionize.sessions import assign_sessions
from ubsd.sessionize.windows import build_windows

T0 = dt.datetime(2026, 11, 1, 0, 0)
CFG = SessionizeSettings(
    gap_minutes=5, max_session_minutes=20, max_session_events=7, window_length=4, window_stride=2
)

offsets = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=0, max_value=3 * 3600)),
    min_size=1,
    max_size=40,
)


def _frame(spark, evs):
    rows = []
    for i, (user, sec) in enumerate(evs):
        row = {f.name: None for f in EVENTS_SCHEMA.fields}
        ts = T0 + dt.timedelta(seconds=sec)
        row.update(
            event_id=f"e{i:03d}",
            user_id=user,
            ts=ts,
            event_type="view",
            date=ts.date(),
            run_id="t",
            processed_at=T0,
        )
        rows.append(row)
    return spark.createDataFrame(rows, EVENTS_SCHEMA)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(evs=offsets)
def test_sessions_partition_events_and_windows_cover_them(spark, evs):
    sessioned = assign_sessions(_frame(spark, evs), CFG).cache()
    rows = sessioned.select("event_id", "user_id", "session_id", "pos", "ts").collect()
    # Every event is in exactly one session, with positions 0..n-1 in time order.
    assert len({r["event_id"] for r in rows}) == len(evs)
    by_session: dict[str, list] = {}
    for r in rows:
        by_session.setdefault(r["session_id"], []).append(r)
    for members in by_session.values():
        members.sort(key=lambda r: r["pos"])
        assert [r["pos"] for r in members] == list(range(len(members)))
        assert len({r["user_id"] for r in members}) == 1
        assert len(members) <= CFG.max_session_events
        span = (members[-1]["ts"] - members[0]["ts"]).total_seconds()
        assert span < CFG.max_session_minutes * 60
        gaps = [(b["ts"] - a["ts"]).total_seconds() for a, b in itertools.pairwise(members)]
        assert all(g <= CFG.gap_minutes * 60 for g in gaps)
    # Windows cover every event of every session, hold at most L events, in order.
    windows = build_windows(sessioned, CFG.window_length, CFG.window_stride, False).collect()
    covered = {e for w in windows for e in w["event_ids"] if e is not None}
    assert covered == {r["event_id"] for r in rows}
    for w in windows:
        assert 1 <= w["n_events"] <= CFG.window_length
        assert sum(w["mask"]) == w["n_events"]
    sessioned.unpersist()
