"""Shared fixtures: one local SparkSession (with Delta) for the whole test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
sys.path.insert(0, str(Path(__file__).parent))

from helpers import make_settings


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    from ubsd.spark import get_spark

    settings = make_settings(tmp_path_factory.mktemp("spark"))
    session = get_spark(settings, "ubsd-tests")
    yield session
    session.stop()
