"""Path resolution that cannot escape the configured root.

>>> resolve_under("/data/ubsd", "tables/events")
'/data/ubsd/tables/events'
>>> resolve_under("/data/ubsd", "../etc")
Traceback (most recent call last):
...
ubsd.io.paths.UnsafePathError: path '../etc' escapes the storage root '/data/ubsd'
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class UnsafePathError(ValueError):
    """A configured or CLI path points outside the storage root."""


def _is_uri(path: str) -> bool:
    return bool(_URI.match(path))


def resolve_under(root: str, rel: str) -> str:
    """Join ``rel`` to ``root`` (local folder or URI) and refuse results outside ``root``.

    Absolute paths and ``..`` segments are allowed only if they stay under the root.
    """
    if _is_uri(root):
        base = root.rstrip("/")
        joined = rel if _is_uri(rel) else f"{base}/{rel.lstrip('/')}"
        scheme, _, rest = joined.partition("://")
        normalized = f"{scheme}://{posixpath.normpath(rest)}"
        ok = normalized == base or normalized.startswith(base + "/")
    else:
        base = str(Path(root).expanduser().resolve())
        candidate = Path(rel).expanduser()
        if not candidate.is_absolute():
            candidate = Path(base) / candidate
        normalized = str(candidate.resolve())
        ok = normalized == base or normalized.startswith(base.rstrip("/") + "/")
    if not ok:
        raise UnsafePathError(f"path {rel!r} escapes the storage root {root!r}")
    return normalized
