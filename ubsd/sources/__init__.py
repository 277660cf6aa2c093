"""Source adapters: public formats and web logs mapped into the event contract inside ingest.

``read_source(spark, cfg, path)`` reads one input path with the adapter ``cfg.kind`` names and
returns the adapter frame (``ubsd.sources.frame``); ingest then validates, dedupes and reconciles
it as any input. See docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession

from ubsd.config import SourceSettings
from ubsd.sources import diginetica, mapped, talkingdata, taobao, weblog
from ubsd.sources.frame import SOURCE_COLUMN_NAMES, with_source_defaults
from ubsd.sources.mapping import MappingError

Reader = Callable[[SparkSession, str, SourceSettings], DataFrame]

ADAPTERS: dict[str, Reader] = {
    "talkingdata": talkingdata.read,
    "taobao": taobao.read,
    "diginetica": diginetica.read,
    "weblog": weblog.read,
    "mapped": mapped.read,
}


def read_source(spark: SparkSession, cfg: SourceSettings, path: str) -> DataFrame:
    """One input path read by the configured adapter (not for ``kind: contract``)."""
    try:
        reader = ADAPTERS[cfg.kind]
    except KeyError:
        raise ValueError(f"no source adapter for kind {cfg.kind!r}") from None
    return reader(spark, path, cfg)


def provides_labels(cfg: SourceSettings) -> bool:
    """True if the adapter derives ground truth (written to storage.labels_path by ingest)."""
    if cfg.kind == "talkingdata":
        return True
    if cfg.kind == "mapped":
        return mapped.provides_labels(cfg)
    return False


__all__ = [
    "ADAPTERS",
    "SOURCE_COLUMN_NAMES",
    "MappingError",
    "provides_labels",
    "read_source",
    "with_source_defaults",
]
