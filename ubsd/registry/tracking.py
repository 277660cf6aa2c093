"""Where MLflow tracks and registers: config, with an environment variable that wins.

The embedded default is a sqlite file plus a local artifact folder under the storage root; a
team points ``MLFLOW_TRACKING_URI`` at its tracking server instead. Credentials in URIs never
reach logs or summaries (:func:`redact`).

>>> redact("https://alice:s3cret@mlflow.example.com/")
'https://***@mlflow.example.com/'
>>> redact("sqlite:////tmp/x/mlflow.db")
'sqlite:////tmp/x/mlflow.db'
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ubsd.config import Settings


def _with_root(template: str, root: str) -> str:
    if "{root}" not in template:
        return template
    if "://" in root:
        return template.replace("{root}", root.rstrip("/"))
    return template.replace("{root}", str(Path(root).resolve()))


#: The URI :func:`configure` last set. ``mlflow.set_tracking_uri`` also writes it into
#: ``MLFLOW_TRACKING_URI``; that value is ours, not the user's, and must not win next time.
_SET_BY_US: set[str] = set()


def tracking_uri(settings: Settings) -> str:
    env = os.environ.get(settings.mlflow.tracking_uri_env)
    if env and env not in _SET_BY_US:
        return env
    return _with_root(settings.mlflow.tracking_uri, settings.storage.root)


def artifact_location(settings: Settings) -> str:
    loc = _with_root(settings.mlflow.artifact_location, settings.storage.root)
    if "://" not in loc:
        Path(loc).mkdir(parents=True, exist_ok=True)
        return Path(loc).resolve().as_uri()
    return loc


def redact(text: str) -> str:
    """Remove ``user:password@`` from every URL in ``text``."""
    return re.sub(r"//[^/@\s]+@", "//***@", text)


def configure(settings: Settings) -> str:
    """Point MLflow at the configured store and make sure the experiment exists; its id."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if before != uri and os.environ.get("MLFLOW_TRACKING_URI") == uri:
        _SET_BY_US.add(uri)
    exp = mlflow.get_experiment_by_name(settings.mlflow.experiment)
    if exp is not None:
        return exp.experiment_id
    return mlflow.create_experiment(
        settings.mlflow.experiment, artifact_location=artifact_location(settings)
    )
