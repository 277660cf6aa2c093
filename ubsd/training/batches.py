"""Mini-batches from windows held in memory or streamed from the table's files.

Streaming keeps memory bounded by a shuffle buffer, whatever the table's size: files are read
in Arrow record batches (see :func:`ubsd.io.window_arrays.iter_window_batches`), windows pass
through a fixed-size buffer from which batches are drawn at random.

>>> import numpy as np
>>> from ubsd.io.window_arrays import WindowArrays
>>> w = WindowArrays.from_columns({"mask": [[1, 1]] * 10}, window_length=2)
>>> w.meta["label"] = np.arange(10) % 2
>>> sizes = [b.n for b in in_memory_batches(w, 4, np.random.default_rng(0), epochs=1)]
>>> sizes
[4, 4, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ubsd.io.window_arrays import WindowArrays, iter_window_batches


def in_memory_batches(
    windows: WindowArrays,
    batch_size: int,
    rng: np.random.Generator,
    epochs: int | None = None,
) -> Iterator[WindowArrays]:
    """Shuffled batches, epoch after epoch (forever when ``epochs`` is None)."""
    epoch = 0
    while epochs is None or epoch < epochs:
        order = rng.permutation(windows.n)
        for start in range(0, windows.n, batch_size):
            yield windows.take(order[start : start + batch_size])
        epoch += 1
        if windows.n == 0:
            return


def streamed_batches(
    files: Sequence[str],
    window_length: int,
    batch_size: int,
    rng: np.random.Generator,
    buffer_windows: int = 50_000,
    keep: Callable[[WindowArrays], np.ndarray] | None = None,
) -> Iterator[WindowArrays]:
    """Forever-cycling shuffled batches from parquet files through a bounded shuffle buffer.

    ``keep`` optionally filters windows (a boolean per window), e.g. to drop a held-out type.
    """
    if not files:
        raise ValueError("no window files to stream from")
    buffer: list[WindowArrays] = []
    held = 0
    while True:
        kept = 0
        for f in rng.permutation(len(files)):
            for part in iter_window_batches([files[f]], window_length, batch_rows=2048):
                if keep is not None:
                    part = part.take(keep(part))
                if part.n == 0:
                    continue
                kept += part.n
                buffer.append(part)
                held += part.n
                if held >= buffer_windows:
                    pool = WindowArrays.concat(buffer)
                    order = rng.permutation(pool.n)
                    cut = pool.n // 2  # emit half, keep half mixed with what comes next
                    for start in range(0, cut - batch_size + 1, batch_size):
                        yield pool.take(order[start : start + batch_size])
                    rest = pool.take(order[cut:])
                    buffer, held = [rest], rest.n
        if kept == 0:
            # Cycling on would spin forever without yielding (a filter that keeps nothing).
            raise ValueError(
                f"no training windows in {len(files)} file(s)"
                + (" after the split/type filter" if keep is not None else "")
            )
        if buffer:
            pool = WindowArrays.concat(buffer)
            order = rng.permutation(pool.n)
            for start in range(0, pool.n, batch_size):
                yield pool.take(order[start : start + batch_size])
            buffer, held = [], 0
