"""Command line: ``ubsd-synth --profile demo --out DIR`` (or ``python -m ubsd.synth``)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence

import pyarrow as pa

from ubsd.synth.generator import FORMATS, generate
from ubsd.synth.profiles import PROFILES, get_profile, scaled


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ubsd-synth",
        description="Generate a labelled synthetic clickstream (raw events, labels, manifest).",
    )
    ap.add_argument("--profile", default="demo", help=f"one of: {', '.join(PROFILES)}")
    ap.add_argument("--out", required=True, help="output folder (new, or a previous output)")
    ap.add_argument("--format", default="json", choices=FORMATS)
    ap.add_argument("--seed", type=int, help="override the profile's seed")
    ap.add_argument("--days", type=int, help="override the number of days")
    ap.add_argument("--users", type=int, help="override the user pool size")
    ap.add_argument("--events", type=int, help="resize the user pool to about this many events")
    ap.add_argument(
        "--heavy-user-events",
        type=int,
        default=0,
        metavar="N",
        help="add click bot heavy_bot_0 with N events on the first date",
    )
    ap.add_argument(
        "--singleton-users",
        type=int,
        default=0,
        metavar="N",
        help="add N users with exactly one event each on the first date",
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator and print a short summary; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        profile = get_profile(args.profile)
    except KeyError as exc:
        print(f"ubsd-synth: {exc.args[0]}", file=sys.stderr)
        return 2
    overrides = {
        k: v
        for k, v in (("seed", args.seed), ("days", args.days), ("n_users", args.users))
        if v is not None
    }
    if args.events is not None:
        profile = scaled(dataclasses.replace(profile, **overrides), args.events)
        overrides["n_users"] = profile.n_users
    pa.array([0])  # pyarrow's lazy pandas import, so the rate below measures the generator
    t0 = time.perf_counter()
    m = generate(
        profile,
        args.out,
        fmt=args.format,
        overrides=overrides,
        heavy_user_events=args.heavy_user_events,
        singleton_users=args.singleton_users,
    )
    seconds = time.perf_counter() - t0
    rows = sum(m.rows_written_per_date.values())
    print(f"profile {m.profile} v{m.profile_version} seed {m.seed} -> {args.out} ({m.format})")
    print(
        f"  dates {m.dates[0]}..{m.dates[-1]}: {m.events} events, {rows} rows written "
        f"in {seconds:.2f} s ({m.events / max(seconds, 1e-9):,.0f} events/s)"
    )
    print(f"  users {m.users}, fraud users {m.fraud_users}, fraud events {m.fraud_events}")
    for t, n in m.fraud_events_per_type.items():
        print(f"    {t:<17} users {m.fraud_users_per_type[t]:>5}  events {n:>9}")
    bad = ", ".join(f"{k} {v}" for k, v in m.malformed_per_reason.items() if v)
    print(
        f"  injected: {bad or 'no malformed rows'}; exact duplicates {m.exact_duplicates}, "
        f"conflicting duplicates {m.conflicting_duplicates}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
