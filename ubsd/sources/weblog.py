"""Web server access logs (Apache/nginx combined format, optionally with a cookie field).

``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`` and the same line followed by one
more quoted field holding the request's cookies (``"session=abc; theme=dark"``) or just the
session id (nginx ``"$cookie_session"``). A request becomes one event:

- ``static_asset`` (path extension in ``source.weblog_static_extensions``): folded into the
  ``filtered`` bucket, or kept as events (``source.weblog_static``);
- ``api``: any method but GET/HEAD, or a path under ``source.weblog_api_prefixes``;
- ``search``: GET of a ``source.weblog_search_paths`` path with a query parameter (``query`` =
  the decoded text);
- ``view``: any other page.

User key: the session cookie when the line has one, else client address + user agent; either is
stored only as a keyed hash. ``item_id`` = the path (no query string), ``category_id`` = its first
segment, ``channel`` = the referrer's host (``direct`` without one), ``user_agent`` kept; status
and bytes are validated (``invalid_value``) and kept, with the full referrer, in the events'
``attrs`` map (``http_status``, ``bytes``, ``referrer``; docs/sources.md).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import SourceSettings
from ubsd.sources.frame import (
    content_id,
    contract_frame,
    epoch_text,
    filter_code,
    first_check,
    read_lines,
)

_Q = r'"((?:[^"\\]|\\.)*)"'
#: Groups: 1 client, 2 user, 3 time, 4 request, 5 status, 6 bytes, 7 referrer, 8 agent, 9 cookie.
LINE = rf"^(\S+) \S+ (\S+) \[([^\]]+)\] {_Q} (\S+) (\S+) {_Q} {_Q}(?: {_Q})?\s*$"
REQUEST = r"^([A-Z]+) (\S+)(?: HTTP/\d(?:\.\d)?)?$"
TIME_FORMAT = "dd/MMM/yyyy:HH:mm:ss Z"


def _dash_null(c: Column) -> Column:
    return F.when((F.trim(c) != "") & (c != "-"), c)


def _attrs(status: Column, size: Column, referrer: Column) -> Column:
    """Status, bytes and referrer: kept as the event's ``attrs`` (no contract column for them).

    ``-`` (not sent) becomes absent; the referrer is kept whole, as the log has it.
    """
    pairs = {"http_status": status, "bytes": _dash_null(size), "referrer": _dash_null(referrer)}
    kv = F.map_from_arrays(
        F.array(*[F.lit(k) for k in pairs]), F.array(*[v.cast("string") for v in pairs.values()])
    )
    return F.map_filter(kv, lambda _k, v: v.isNotNull())


def _param(query_string: Column, names: list[str]) -> Column:
    """The first named parameter present in a query string, URL-decoded (``+`` is a space)."""
    values = [
        F.when(
            query_string.rlike(rf"(^|&){name}="),
            F.regexp_extract(query_string, rf"(?:^|&){name}=([^&]*)", 1),
        )
        for name in names
    ]
    raw = F.coalesce(*values)
    return F.coalesce(F.try_url_decode(raw), raw)


def _session(cookie_field: Column, name: str) -> Column:
    """The session id: the named cookie of a cookie list, or the whole field when it is bare."""
    named = F.regexp_extract(cookie_field, rf"(?:^|;\s*){name}=([^;]*)", 1)
    bare = F.when(~cookie_field.contains("="), cookie_field)
    return _dash_null(F.when(cookie_field.contains("="), named).otherwise(bare))


def read(spark: SparkSession, path: str, cfg: SourceSettings) -> DataFrame:
    # Built in small projections, each naming its results: nested expressions that repeat their
    # inputs (a regex inside a regex inside a CASE) make plans that compile slowly.
    lines = read_lines(spark, path).withColumn("corrupt", ~F.col("raw").rlike(LINE))
    groups = ["client", "user", "time", "request", "status", "bytes", "referrer", "agent", "cookie"]
    df = lines.select(
        "raw",
        "source_file",
        "corrupt",
        *[
            F.when(~F.col("corrupt"), F.regexp_extract("raw", LINE, i + 1)).alias(g)
            for i, g in enumerate(groups)
        ],
    )
    df = df.withColumn("request_ok", F.col("request").rlike(REQUEST))
    df = df.withColumns(
        {
            "method": F.when(F.col("request_ok"), F.regexp_extract("request", REQUEST, 1)),
            "target": F.when(F.col("request_ok"), F.regexp_extract("request", REQUEST, 2)),
            "ts_parsed": F.try_to_timestamp(F.col("time"), F.lit(TIME_FORMAT)),
            "agent": _dash_null(F.col("agent")),
            "session": _session(F.col("cookie"), cfg.weblog_session_cookie),
        }
    )
    df = df.withColumns(
        {
            "page": F.regexp_extract("target", r"^([^?#]*)", 1),
            "query_string": F.regexp_extract("target", r"\?([^#]*)", 1),
        }
    )
    page, method = F.col("page"), F.col("method")
    extensions = "|".join(e.lower().lstrip(".") for e in cfg.weblog_static_extensions)
    df = df.withColumns(
        {
            "is_static": F.lower(page).rlike(rf"\.({extensions})$") if extensions else F.lit(False),
            "is_api": ~method.isin("GET", "HEAD")
            | F.greatest(F.lit(False), *[page.startswith(p) for p in cfg.weblog_api_prefixes]),
            "on_search_path": F.greatest(
                F.lit(False),
                *[
                    (page == p) | page.startswith(p.rstrip("/") + "/")
                    for p in cfg.weblog_search_paths
                ],
            ),
            "search_text": _param(F.col("query_string"), cfg.weblog_query_params),
        }
    )
    df = df.withColumn("is_search", F.col("on_search_path") & F.col("search_text").isNotNull())
    event_type = (
        F.when(F.col("is_static"), F.lit("static_asset"))
        .when(F.col("is_api"), F.lit("api"))
        .when(F.col("is_search"), F.lit("search"))
        .otherwise(F.lit("view"))
    )
    session, agent = F.col("session"), F.col("agent")
    user_key = F.when(session.isNotNull(), F.concat(F.lit("session|"), session)).otherwise(
        F.concat(F.lit("client|"), F.col("client"), F.lit("|"), F.coalesce(agent, F.lit("")))
    )
    referrer_host = F.lower(
        F.regexp_extract(F.col("referrer"), r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#@]+)", 1)
    )
    request, status, size = F.col("request"), F.col("status"), F.col("bytes")
    reason, detail = first_check(
        [
            (
                "unparseable_timestamp",
                F.col("ts_parsed").isNull(),
                F.concat(F.lit("time="), F.col("time")),
            ),
            (
                "invalid_value",
                ~F.col("request_ok"),
                F.concat(F.lit("request="), F.substring(request, 1, 200)),
            ),
            ("invalid_value", ~status.rlike(r"^[1-5]\d\d$"), F.concat(F.lit("status="), status)),
            ("invalid_value", ~size.rlike(r"^(\d+|-)$"), F.concat(F.lit("bytes="), size)),
        ]
    )
    fold = cfg.weblog_static == "fold"
    df = df.withColumns(
        {
            "event_id": content_id("wl", F.col("raw")),
            "event_type": event_type,
            "user_key": user_key,
            "referrer_host": referrer_host,
            "src_reason": reason,
            "src_detail": detail,
        }
    )
    # Quarantined raw text must not carry live session cookies (masked after the event id).
    cookie_re = rf"(?i)((?:^|[;\s\"]){cfg.weblog_session_cookie}=)[^;\"\s]*"
    df = df.withColumn("raw", F.regexp_replace("raw", cookie_re, "$1<redacted>"))
    return contract_frame(
        df,
        {
            "event_id": F.col("event_id"),
            "user_id": F.col("user_key"),
            "ts": F.when(F.col("ts_parsed").isNotNull(), epoch_text(F.col("ts_parsed"))).otherwise(
                F.col("time")
            ),
            "event_type": F.col("event_type"),
            "item_id": _dash_null(page),
            "category_id": _dash_null(F.regexp_extract(page, r"^/([^/]+)", 1)),
            "query": F.when(F.col("is_search"), F.col("search_text")),
            "ip": F.col("client"),
            "user_agent": agent,
            "channel": F.when(F.col("referrer_host") != "", F.col("referrer_host")).otherwise(
                F.lit("direct")
            ),
        },
        {
            "src_reason": F.col("src_reason"),
            "src_detail": F.col("src_detail"),
            "src_filter": F.when(F.col("is_static") & F.lit(fold), filter_code("static_asset")),
            "src_user_sensitive": F.lit(True),
            "src_attrs": _attrs(status, size, F.col("referrer")),
        },
    )
