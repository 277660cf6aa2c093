"""Resolve a registered model (alias or exact version) once, and pin that version.

Every failure names the model, the alias or version, and the cause: no such alias, a deleted
artifact, corrupt weights, an unreachable tracking server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ubsd.config import Settings
from ubsd.model.artifact import BehaviorModel, ModelLoadError, load_model
from ubsd.registry.pyfunc import ARTIFACT_KEY
from ubsd.registry.tracking import configure, redact, tracking_uri

log = logging.getLogger("ubsd.registry")


class RegistryError(RuntimeError):
    """The requested model version cannot be resolved or loaded.

    Messages are redacted: credentials in tracking URIs never reach logs or summaries.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    alias: str | None
    run_id: str
    local_dir: Path  # the ubsd model directory (ubsd_model.json, network/, adapter/)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def load(self, device: str = "cpu") -> BehaviorModel:
        try:
            return load_model(self.local_dir, device=device)
        except ModelLoadError as exc:
            raise RegistryError(f"model {self.name} version {self.version}: {exc}") from None


def _what(name: str, alias: str | None, version: str | None) -> str:
    return f"{name}@{alias}" if alias else f"{name} version {version}"


def resolve(
    settings: Settings,
    alias: str | None = None,
    version: str | None = None,
    cache_dir: str | Path | None = None,
) -> ResolvedModel:
    """Find the version behind ``alias`` (default: champion) or ``version``; download it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    name = settings.mlflow.registered_model
    if version is None and alias is None:
        alias = settings.mlflow.champion_alias
    what = _what(name, alias, version)
    try:
        configure(settings)
        client = mlflow.MlflowClient()
        mv = (
            client.get_model_version_by_alias(name, alias)
            if alias
            else client.get_model_version(name, str(version))
        )
    except MlflowException as exc:
        msg = str(exc).splitlines()[0][:300]
        raise RegistryError(
            f"cannot resolve {what} at {redact(tracking_uri(settings))}: {msg}"
        ) from None
    except Exception as exc:  # connection errors surface as many types
        raise RegistryError(
            f"cannot reach the MLflow registry at {redact(tracking_uri(settings))} "
            f"to resolve {what}: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{mv.version}",
            dst_path=str(cache_dir) if cache_dir else None,
        )
    except Exception as exc:
        raise RegistryError(
            f"{what} (version {mv.version}): artifacts cannot be downloaded: "
            f"{type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    # MLflow keeps the logged folder's own name under artifacts/ (not the artifact key).
    arts = Path(local) / "artifacts"
    found = sorted(m.parent for m in arts.glob("*/ubsd_model.json")) if arts.is_dir() else []
    model_dir = found[0] if found else arts / ARTIFACT_KEY
    if not model_dir.is_dir():
        raise RegistryError(f"{what} (version {mv.version}): artifact {ARTIFACT_KEY}/ missing")
    log.info("resolved %s -> version %s", what, mv.version)
    return ResolvedModel(name, str(mv.version), alias, mv.run_id or "", model_dir)
