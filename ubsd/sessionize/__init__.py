"""Sessionize: events -> per-user sessions -> per-event features -> fixed-length windows.

Spark SQL built-ins only (no Python UDFs): this stage runs in the JVM at cluster scale.
"""

from ubsd.sessionize.job import run_sessionize
from ubsd.sessionize.spec import FeatureSpec, feature_spec

__all__ = ["FeatureSpec", "feature_spec", "run_sessionize"]
