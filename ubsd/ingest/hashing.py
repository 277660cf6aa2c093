"""Keyed hashing of IP addresses and device ids.

The key is read from an environment variable inside the Python worker, so it never appears in a
Spark expression, query plan, the Spark UI or event logs (a key concatenated into ``sha2(...)``
would). On a cluster, give executors the variable through a secret (for example
``spark.executorEnv.UBSD_HASH_SECRET`` from a Kubernetes secret; Spark redacts keys matching
``secret`` in its UI).
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd
from pyspark.sql import Column
from pyspark.sql.functions import pandas_udf

#: A public, fixed key for local development only (``ingest.allow_dev_hash_key: true``).
DEV_HASH_KEY = "ubsd-development-key-not-secret"


class HashKeyError(RuntimeError):
    """No hashing key is available."""


def hash_key(env_var: str, allow_dev: bool) -> bytes:
    """The hashing key from ``env_var``; the development key only where config allows it."""
    value = os.environ.get(env_var, "")
    if value:
        return value.encode("utf-8")
    if allow_dev:
        return DEV_HASH_KEY.encode("utf-8")
    raise HashKeyError(
        f"environment variable {env_var} is not set: ip and device ids are stored only as keyed "
        f"hashes. Set it from your secret store (or, for local development only, set "
        f"ingest.allow_dev_hash_key: true)."
    )


def keyed_hash_value(value: str | None, key: bytes) -> str | None:
    """HMAC-SHA256 of ``value``, first 32 hex chars.

    >>> keyed_hash_value("10.0.0.1", b"k") == keyed_hash_value("10.0.0.1", b"k")
    True
    >>> keyed_hash_value("10.0.0.1", b"k") == keyed_hash_value("10.0.0.1", b"other")
    False
    >>> keyed_hash_value(None, b"k") is None
    True
    """
    if value is None:
        return None
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def keyed_hash(column: Column, env_var: str, allow_dev: bool) -> Column:
    """Spark column of keyed hashes; the key is looked up in each worker, never shipped in plans."""

    @pandas_udf("string")  # type: ignore[call-overload]
    def _hash(values: pd.Series) -> pd.Series:
        key = hash_key(env_var, allow_dev)
        return values.map(lambda v: keyed_hash_value(v, key) if isinstance(v, str) else None)

    return _hash(column)
