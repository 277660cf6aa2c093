"""Resolve the scoring model once on the driver, pin that exact version, check its feature spec.

Everything that can make a run fail before any row is written happens here: no champion, a
missing artifact, corrupt weights, a feature-spec mismatch. Each error names the registered
model, the alias (or version) asked for, and the cause.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ubsd.config import Settings
from ubsd.model.artifact import BehaviorModel, FeatureSpecMismatchError
from ubsd.registry.resolve import RegistryError, resolve


class ScoringError(RuntimeError):
    """The scoring run cannot start (or finish) correctly; nothing was written."""


@dataclass(frozen=True)
class PinnedModel:
    """The one model version a scoring run uses, and the alerting rule stored with it."""

    name: str
    version: str  # registered version, pinned for the whole run
    alias: str | None
    run_id: str
    local_dir: str  # ubsd model directory on the driver (also on executors in local mode)
    model_digest: str  # BehaviorModel.version: content digest of spec, vocabulary, thresholds
    feature_version: str
    window_length: int
    has_classifier: bool
    threshold: float  # applied to fraud_probability, or to zero_label_score without a classifier
    alert_source: str  # probability | zero_label

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def what(self) -> str:
        asked = f"@{self.alias}" if self.alias else f" version {self.version}"
        return f"model {self.name}{asked} (version {self.version})"


def requested(
    settings: Settings, alias: str | None, version: str | None
) -> tuple[str | None, str | None]:
    """(alias, version) to resolve: an explicit version wins; the default alias is the champion."""
    version = version or settings.scoring.model_version
    if version is not None:
        return None, str(version)
    return alias or settings.scoring.model_alias or settings.mlflow.champion_alias, None


def pin_model(
    settings: Settings,
    alias: str | None = None,
    version: str | None = None,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
) -> tuple[PinnedModel, BehaviorModel]:
    """Resolve, download and load the model (weights verified by loading them)."""
    alias, version = requested(settings, alias, version)
    name = settings.mlflow.registered_model
    asked = f"{name}@{alias}" if alias else f"{name} version {version}"
    try:
        resolved = resolve(settings, alias=alias, version=version, cache_dir=cache_dir)
        model = resolved.load(device=device)
    except RegistryError as exc:
        raise ScoringError(f"scoring with model {asked}: {exc}; nothing written") from None
    if model.has_classifier:
        if model.threshold is None:
            raise ScoringError(
                f"scoring with model {asked}: version {resolved.version} has a classifier but "
                f"no stored threshold; nothing written"
            )
        threshold, source = float(model.threshold), "probability"
    else:
        if model.zero_label_threshold is None:
            raise ScoringError(
                f"scoring with model {asked}: version {resolved.version} has neither a "
                f"classifier nor a zero-label threshold; nothing written"
            )
        threshold, source = float(model.zero_label_threshold), "zero_label"
    pinned = PinnedModel(
        name=resolved.name,
        version=resolved.version,
        alias=alias,
        run_id=resolved.run_id,
        local_dir=str(resolved.local_dir),
        model_digest=model.version,
        feature_version=model.spec.version,
        window_length=model.spec.window_length,
        has_classifier=model.has_classifier,
        threshold=threshold,
        alert_source=source,
    )
    return pinned, model


def check_feature_versions(pinned: PinnedModel, model: BehaviorModel, found: Iterable[str]) -> None:
    """Every feature version present in the windows must be the model's."""
    for fv in sorted(set(found)):
        try:
            model.check_spec(fv)
        except FeatureSpecMismatchError as exc:
            raise ScoringError(f"scoring with {pinned.what}: {exc}; nothing written") from None
