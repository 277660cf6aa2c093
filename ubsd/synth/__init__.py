"""Deterministic, labelled synthetic clickstreams: the project's embedded default data.

``generate(get_profile("demo"), out_dir)`` (or ``ubsd-synth --profile demo --out DIR``) writes:

* ``raw/date=YYYY-MM-DD/part-00000.jsonl`` (or ``.parquet``): the raw event contract
  (``ubsd.io.schemas.RAW_EVENT_SCHEMA``), one folder per UTC date of ``ts``. ``ts`` is text,
  ``YYYY-MM-DDTHH:MM:SS.mmmZ``. JSON lines leave absent optional fields out; Parquet types
  every column per the contract (ts as string, all columns nullable).
* ``labels/part-00000.parquet``: ground truth per well-formed event (``LABELS_SCHEMA``). Labels
  follow sessions: every event of an attack session is fraud (including a short stretch of normal
  browsing an attacker may open it with); an attacker's separate "cover" browsing sessions and a
  takeover victim's own history are normal.
* ``manifest.json``: see :class:`Manifest`; it says exactly what ingest should keep, drop and
  quarantine (``Manifest.expected_quarantine``).

How bad rows are laid out (each date's file): well-formed events in time order; extra rows are
spliced in at random positions and never replace an event.

* malformed rows, fresh event ids, no label row, one quarantine reason each (the first that
  applies in ``QUARANTINE_REASONS`` order, and only that one): ``malformed_record`` (a JSON line
  cut short; JSON only), ``missing_required_field`` (user_id absent/null or ""),
  ``unparseable_timestamp`` ("yesterday", "not-a-timestamp"), ``timestamp_out_of_range``
  (1999-12-31 with the copied time of day), ``invalid_price`` (negative), ``invalid_value``
  (position "abc" or is_sponsored "maybe"; JSON only). All other fields are valid and every
  parseable ts lies on the file's date.
* exact duplicates: a byte-identical copy of a row (same event_id), after it in the same file.
* conflicting duplicates: an event's event_id and ts with another price, after the original in
  the same file; the original (first) row is the labelled one.

Behavior: normal shoppers follow a Markov chain (search -> impressions -> click -> view ->
cart -> purchase) with log-normal dwell times, favourite categories, Zipf item popularity, an
evening-peaking UTC day curve and a stable device/IP/agent with rare legitimate changes. Fraud
types: ``FRAUD_TYPES``, parameters per profile (``profiles``). Sessions can cross midnight
(their events land in the next date's file); two sessions of one user are at least 45 minutes
apart and no gap inside a session exceeds 20 minutes, so a 30-minute inactivity split recovers
the generated sessions. Pure numpy and pyarrow: no Spark needed to make data.
"""

from ubsd.synth.generator import content_fingerprint, generate
from ubsd.synth.manifest import Manifest
from ubsd.synth.profiles import (
    FRAUD_TYPES,
    PROFILES,
    Profile,
    get_profile,
    scaled,
    with_overrides,
)

__all__ = [
    "FRAUD_TYPES",
    "PROFILES",
    "Manifest",
    "Profile",
    "content_fingerprint",
    "generate",
    "get_profile",
    "scaled",
    "with_overrides",
]
