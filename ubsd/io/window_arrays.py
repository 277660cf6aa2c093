"""Windows as numpy arrays, streamed from the windows table without collecting it in the driver.

Training, evaluation and the baselines all consume :class:`WindowArrays`: one ``(n, L)`` int32
array per feature of :data:`~ubsd.io.schemas.WINDOW_MODEL_INPUTS`, plus per-window metadata. The
table is read through the files of its current snapshot (as Spark resolves them, so Delta's
log decides which files are live) in Arrow record batches of bounded size.

>>> import numpy as np
>>> wa = WindowArrays.from_columns({
...     "event_type_ids": [[2, 3, 0]], "mask": [[1, 1, 0]], "dt_seconds": [[0.0, 1.5, 0.0]],
... }, window_length=3)
>>> wa.n, wa.features["event_type_ids"].tolist(), wa.lengths().tolist()
(1, [[2, 3, 0]], [2])
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ubsd.io.schemas import WINDOW_MODEL_INPUTS

#: Per-window metadata columns carried beside the feature arrays (when present).
META_COLUMNS: tuple[str, ...] = (
    "window_id",
    "user_id",
    "session_id",
    "start_ts",
    "end_ts",
    "n_events",
    "label",
    "fraud_type",
    "feature_version",
    "date",
)
_DATE_IN_PATH = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


@dataclass
class WindowArrays:
    """A set of windows in memory: ``features[name]`` is ``(n, L)`` int32, ``meta[col]`` is (n,)."""

    features: dict[str, np.ndarray]
    dt_seconds: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(next(iter(self.features.values())).shape[0])

    @property
    def window_length(self) -> int:
        return int(next(iter(self.features.values())).shape[1])

    @property
    def mask(self) -> np.ndarray:
        return self.features["mask"]

    @property
    def labels(self) -> np.ndarray | None:
        """0/1 per window, or None when the table carries no labels (any null = unlabeled)."""
        lab = self.meta.get("label")
        if lab is None:
            return None
        arr = np.asarray(lab, dtype=object)
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in arr):
            return None
        return arr.astype(np.int64)

    @property
    def fraud_types(self) -> np.ndarray:
        ft = self.meta.get("fraud_type")
        if ft is None:
            return np.array([None] * self.n, dtype=object)
        return np.asarray(ft, dtype=object)

    def lengths(self) -> np.ndarray:
        return self.mask.sum(axis=1).astype(np.int64)

    def take(self, idx: np.ndarray | Sequence[int]) -> WindowArrays:
        """A subset of windows (by index or boolean mask)."""
        idx = np.asarray(idx)
        return WindowArrays(
            features={k: v[idx] for k, v in self.features.items()},
            dt_seconds=None if self.dt_seconds is None else self.dt_seconds[idx],
            meta={k: np.asarray(v)[idx] for k, v in self.meta.items()},
        )

    @classmethod
    def concat(cls, parts: Sequence[WindowArrays]) -> WindowArrays:
        parts = [p for p in parts if p.n > 0] or list(parts[:1])
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        return cls(
            features={k: np.concatenate([p.features[k] for p in parts]) for k in first.features},
            dt_seconds=None
            if first.dt_seconds is None
            else np.concatenate([p.dt_seconds for p in parts]),
            meta={k: np.concatenate([np.asarray(p.meta[k]) for p in parts]) for k in first.meta},
        )

    def to_parquet(self, path: str) -> None:
        """Write as a parquet file with the windows table's column names (for hand-offs)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols: dict[str, Any] = {k: list(v) for k, v in self.features.items()}
        if self.dt_seconds is not None:
            cols["dt_seconds"] = list(self.dt_seconds)
        for k, v in self.meta.items():
            cols[k] = [x.item() if hasattr(x, "item") else x for x in v]
        pq.write_table(pa.table(cols), path)

    @classmethod
    def from_columns(cls, cols: dict[str, Any], window_length: int) -> WindowArrays:
        """Build from column-wise lists/arrays (as a pandas or Arrow batch gives them).

        Arrays shorter than ``window_length`` are right-padded with 0 (the pad id).
        """
        feats: dict[str, np.ndarray] = {}
        for name in WINDOW_MODEL_INPUTS:
            if name in cols:
                feats[name] = _stack(cols[name], window_length, np.int32)
        if "mask" not in feats:
            raise ValueError("windows need a 'mask' column")
        dts = (
            _stack(cols["dt_seconds"], window_length, np.float32) if "dt_seconds" in cols else None
        )
        meta = {k: np.asarray(list(cols[k]), dtype=object) for k in META_COLUMNS if k in cols}
        return cls(features=feats, dt_seconds=dts, meta=meta)


def _stack(values: Any, length: int, dtype: type) -> np.ndarray:
    rows = list(values)
    out = np.zeros((len(rows), length), dtype=dtype)
    for i, row in enumerate(rows):
        if row is None:
            continue
        r = np.asarray(row, dtype=dtype)[:length]
        out[i, : r.shape[0]] = r
    return out


def snapshot_files(
    spark: Any, path: str, fmt: str, dates: Sequence[dt.date] | None = None
) -> list[str]:
    """The data files of the table's current snapshot, restricted to ``dates`` (partition pruned).

    Spark resolves them (for Delta: from the transaction log), so files removed by a later
    ``replaceWhere`` are never read.
    """
    from ubsd.io.tables import dates_predicate, table_exists

    if not table_exists(spark, path, fmt):
        return []
    df = spark.read.format(fmt).load(path)
    if dates:
        df = df.where(dates_predicate(dates))
    return sorted(df.inputFiles())


def iter_window_batches(
    files: Sequence[str],
    window_length: int,
    batch_rows: int = 4096,
    columns: Sequence[str] | None = None,
) -> Iterator[WindowArrays]:
    """Stream :class:`WindowArrays` of at most ``batch_rows`` windows from parquet ``files``.

    Memory is bounded by one Arrow record batch, whatever the table's size. The ``date``
    partition value, which Delta keeps out of the data files, is recovered from the file path.
    """
    import pyarrow.parquet as pq

    wanted = list(columns) if columns else [*WINDOW_MODEL_INPUTS, "dt_seconds", *META_COLUMNS]
    for f in files:
        local = f.removeprefix("file://").removeprefix("file:")
        pf = pq.ParquetFile(local)
        have = set(pf.schema_arrow.names)
        cols = [c for c in wanted if c in have]
        m = _DATE_IN_PATH.search(f)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
            yield _from_arrow(batch, window_length, m.group(1) if m and "date" in wanted else None)


def _padded(column: Any, length: int, dtype: type) -> np.ndarray:
    """An Arrow list column -> (n, length) array, right-padded with 0, without Python lists."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(col)
    out = np.zeros((n, length), dtype=dtype)
    if n == 0:
        return out
    lens = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(col).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(n), lens)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pos = np.arange(flat.shape[0]) - np.repeat(starts, lens)
    keep = pos < length
    out[rows[keep], pos[keep]] = flat[keep]
    return out


def _from_arrow(batch: Any, window_length: int, path_date: str | None) -> WindowArrays:
    names = set(batch.schema.names)
    feats = {
        name: _padded(batch.column(name), window_length, np.int32)
        for name in WINDOW_MODEL_INPUTS
        if name in names
    }
    if "mask" not in feats:
        raise ValueError("windows need a 'mask' column")
    dts = (
        _padded(batch.column("dt_seconds"), window_length, np.float32)
        if "dt_seconds" in names
        else None
    )
    meta = {
        k: np.asarray(batch.column(k).to_pylist(), dtype=object) for k in META_COLUMNS if k in names
    }
    if "date" not in meta and path_date is not None:
        meta["date"] = np.asarray([dt.date.fromisoformat(path_date)] * batch.num_rows, dtype=object)
    return WindowArrays(features=feats, dt_seconds=dts, meta=meta)


def load_windows(
    spark: Any,
    path: str,
    fmt: str,
    window_length: int,
    dates: Sequence[dt.date] | None = None,
    max_windows: int | None = None,
    batch_rows: int = 4096,
) -> WindowArrays | None:
    """All windows of ``dates`` in memory (or the first ``max_windows``); None when empty.

    Use for evaluation-sized sets; training streams with :func:`iter_window_batches`.
    """
    parts: list[WindowArrays] = []
    total = 0
    for part in iter_window_batches(
        snapshot_files(spark, path, fmt, dates), window_length, batch_rows
    ):
        if max_windows is not None and total + part.n > max_windows:
            part = part.take(np.arange(max_windows - total))
        parts.append(part)
        total += part.n
        if max_windows is not None and total >= max_windows:
            break
    return WindowArrays.concat(parts) if parts else None
