"""Vectorized text building: ids, timestamps, IPs and JSON lines straight into Arrow buffers.

Python string formatting per row would cost more than the whole simulation; these helpers build
fixed-width strings as byte matrices and variable ones with Arrow compute kernels.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
MS_PER_DAY = 86_400_000


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mix: distinct inputs give distinct, random-looking outputs."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fixed_width(chars: np.ndarray) -> pa.Array:
    """An (n, w) uint8 matrix of ASCII bytes as an Arrow string array, without Python strings."""
    n, w = chars.shape
    data = np.ascontiguousarray(chars, dtype=np.uint8).reshape(-1)
    if n * w >= 2**31:
        offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64)
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


#: Two hex characters per byte value, as one uint16 (so that one gather writes both).
_HEX_PAIRS = (
    np.array([[ord(a), ord(b)] for a in "0123456789abcdef" for b in "0123456789abcdef"])
    .astype(np.uint8)
    .view(np.uint16)
    .ravel()
)


def hex_strings(values: np.ndarray, width: int, prefix: bytes = b"") -> pa.Array:
    """``prefix`` + the low ``width`` (even, <= 16) hex digits of each uint64 value."""
    v = np.asarray(values, dtype=np.uint64)
    be = v.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - width // 2 :]
    chars = _HEX_PAIRS[be].view(np.uint8).reshape(v.size, width)
    if prefix:
        head = np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (v.size, len(prefix)))
        chars = np.concatenate([head, chars], axis=1)
    return fixed_width(chars)


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proleptic Gregorian (year, month, day) of days since 1970-01-01 (H. Hinnant's algorithm)."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


_TENS = np.repeat(_DIGITS, 10)
_ONES = np.tile(_DIGITS, 10)


def _put2(chars: np.ndarray, col: int, value: np.ndarray) -> None:
    """Two decimal digits of ``value`` (0..99) at ``col``."""
    chars[:, col] = _TENS[value]
    chars[:, col + 1] = _ONES[value]


def _iso_digits(ts: np.ndarray) -> np.ndarray:
    """(n, 24) bytes of ``YYYY-MM-DDTHH:MM:SS.mmmZ``, digit by digit (the general path)."""
    days = np.floor_divide(ts, MS_PER_DAY)
    rem = ts - days * MS_PER_DAY
    y, m, d = civil_from_days(days)
    chars = np.empty((ts.size, 24), dtype=np.uint8)
    chars[:] = np.frombuffer(b"0000-00-00T00:00:00.000Z", dtype=np.uint8)
    _put2(chars, 0, y // 100)
    _put2(chars, 2, y % 100)
    _put2(chars, 5, m)
    _put2(chars, 8, d)
    secs = rem // 1000
    _put2(chars, 11, secs // 3600)
    _put2(chars, 14, (secs // 60) % 60)
    _put2(chars, 17, secs % 60)
    ms = rem % 1000
    chars[:, 20] = _DIGITS[ms // 100]
    _put2(chars, 21, ms % 100)
    return chars


@functools.lru_cache(maxsize=1)
def _time_tables() -> tuple[np.ndarray, np.ndarray]:
    """``HH:MM:SS.`` for every second of a day and ``mmmZ`` for every millisecond."""
    sec = _iso_digits(np.arange(86_400, dtype=np.int64) * 1000)[:, 11:20]
    ms = _iso_digits(np.arange(1000, dtype=np.int64))[:, 20:24]
    return np.ascontiguousarray(sec).view("S9").ravel(), np.ascontiguousarray(ms).view("S4").ravel()


_ISO = np.dtype([("date", "S11"), ("time", "S9"), ("ms", "S4")])


def iso_ms(ts_ms: np.ndarray) -> pa.Array:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` strings (years 1000-9999).

    Built from lookup tables (dates in range, seconds of a day, milliseconds): three gathers
    of fixed-width byte strings per row instead of twenty digit computations.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    if ts.size == 0:
        return fixed_width(np.zeros((0, 24), dtype=np.uint8))
    days = np.floor_divide(ts, MS_PER_DAY)
    first, last = int(days.min()), int(days.max())
    if last - first > 200_000:
        return fixed_width(_iso_digits(ts))
    day_text = _iso_digits(np.arange(first, last + 1, dtype=np.int64) * MS_PER_DAY)[:, :11]
    rem = ts - days * MS_PER_DAY
    sec_text, ms_text = _time_tables()
    out = np.empty(ts.size, dtype=_ISO)
    out["date"] = np.ascontiguousarray(day_text).view("S11").ravel()[days - first]
    out["time"] = sec_text[rem // 1000]
    out["ms"] = ms_text[rem % 1000]
    return fixed_width(out.view(np.uint8).reshape(ts.size, 24))


def ipv4_strings(values: np.ndarray) -> pa.Array:
    """Dotted-quad strings of uint32 addresses."""
    v = np.asarray(values, dtype=np.uint32)
    octets = [
        pc.cast(pa.array((v >> np.uint32(s)) & np.uint32(255)), pa.string()) for s in (24, 16, 8, 0)
    ]
    return pc.binary_join_element_wise(*octets, ".")


#: Key order of generated JSON lines (any order is valid JSON; session-constant keys last).
JSON_KEY_ORDER: tuple[str, ...] = (
    "event_id",
    "ts",
    "event_type",
    "query",
    "position",
    "is_sponsored",
    "item_id",
    "category_id",
    "price",
    "user_id",
    "device_id",
    "ip",
    "user_agent",
    "channel",
)


def json_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row, ``\\n``-terminated; null fields are left out.

    String values are written unescaped: every generated string is plain ASCII without quotes
    or backslashes (the generator's vocabularies are checked for that).
    """
    fragments = []
    order = [k for k in JSON_KEY_ORDER if k in table.column_names]
    order += [k for k in table.column_names if k not in JSON_KEY_ORDER]
    for name in order:
        col = table.column(name)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            frag = pc.binary_join_element_wise(f'"{name}":"', arr, '"', "")
        else:
            frag = pc.binary_join_element_wise(f'"{name}":', pc.cast(arr, pa.string()), "")
        fragments.append(frag)
    body = pc.binary_join_element_wise(*fragments, ",", null_handling="skip")
    return pc.binary_join_element_wise("{", body, "}\n", "")


def string_bytes(arr: pa.Array, start: int = 0, stop: int | None = None) -> pa.Buffer:
    """The concatenated bytes of rows ``start:stop`` of a null-free string array."""
    stop = len(arr) if stop is None else stop
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)
    lo = int(offsets[arr.offset + start])
    hi = int(offsets[arr.offset + stop])
    return bufs[2].slice(lo, hi - lo) if hi > lo else pa.py_buffer(b"")
