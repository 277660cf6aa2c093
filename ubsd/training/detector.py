"""The transformer behind the shared detector contract, so the evaluation treats it as one line.

``TransformerDetector(settings, mode="full" | "lora")`` scores the fine-tuned fraud
probability; ``ZeroLabelDetector(settings)`` scores the pretrained encoder's zero-label
surprise and ignores labels. Detectors built with the same :class:`PretrainCache` pretrain once
and fine-tune copies of that encoder (the leave-one-type-out refits reuse it too: unlabelled
pretraining traffic keeps every type, as in production).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ubsd.config import Settings
from ubsd.detectors.base import Detector
from ubsd.io.window_arrays import WindowArrays
from ubsd.model.artifact import BehaviorModel
from ubsd.sessionize.spec import feature_spec
from ubsd.training.trainer import TrainResult, TrainSource, pretrained_encoder, train_model


@dataclass
class PretrainCache:
    """One pretrained encoder shared by the detectors of an evaluation."""

    value: tuple[Any, Any, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def get(
        self, settings: Settings, train: WindowArrays, val: WindowArrays
    ) -> tuple[Any, Any, Any]:
        if self.value is None:
            spec = feature_spec(settings.sessionize)
            src = TrainSource(train.window_length, windows=train)
            self.value = pretrained_encoder(src, val, settings, spec, progress=False)
            self.facts = self.value[2].as_dict()
        return self.value


def _train_on_cached(
    settings: Settings, cache: PretrainCache, windows: WindowArrays, val: WindowArrays
) -> TrainResult:
    """Fine-tune (or just calibrate, mode none) on the cache's shared pretrained encoder."""
    return train_model(
        TrainSource(windows.window_length, windows=windows),
        val,
        settings,
        feature_spec(settings.sessionize),
        progress=False,
        pretrained=cache.get(settings, windows, val),
    )


def _with_mode(settings: Settings, mode: str) -> Settings:
    training = settings.training.model_copy(update={"finetune_mode": mode})
    return settings.model_copy(update={"training": training})


class TransformerDetector(Detector):
    """Fine-tuned fraud probability of the behavior transformer."""

    supervised = True

    def __init__(
        self, settings: Settings, mode: str = "full", cache: PretrainCache | None = None
    ) -> None:
        self.settings = _with_mode(settings, mode)
        self.mode = mode
        self.name = f"transformer_{mode}"
        self.cache = cache or PretrainCache()
        self.result: TrainResult | None = None

    @property
    def model(self) -> BehaviorModel:
        if self.result is None:
            raise RuntimeError(f"{self.name}: not fitted")
        return self.result.model

    def fit(
        self,
        windows: WindowArrays,
        labels: np.ndarray | None = None,
        validation: tuple[WindowArrays, np.ndarray] | None = None,
    ) -> TransformerDetector:
        if validation is None:
            raise ValueError(f"{self.name} needs validation windows for early stopping")
        val = validation[0]
        if labels is not None:
            windows.meta["label"] = np.asarray(labels)
        self.result = _train_on_cached(self.settings, self.cache, windows, val)
        return self

    def score(self, windows: WindowArrays) -> np.ndarray:
        prob, _ = self.model.score_arrays(windows.features, zero_label=False)
        assert prob is not None
        return prob.astype(np.float64)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.result is not None:
            out.update(
                size=self.settings.model.size,
                pretrain=self.result.pretrain.as_dict(),
                finetune=self.result.finetune.as_dict() if self.result.finetune else None,
            )
        return out


class FusedDetector(TransformerDetector):
    """The fine-tuned probability stacked with the same model's zero-label score.

    Both come from one encoder pass of the fine-tuned model. A two-feature logistic regression
    (logit of the probability, zero-label score), fitted on the validation windows, weighs them;
    a useless zero-label score gets a weight near zero. Evaluation-only: the report says whether
    it beats the probability alone before scoring ships it.
    """

    def __init__(self, settings: Settings, cache: PretrainCache | None = None) -> None:
        super().__init__(settings, "full", cache)
        self.name = "transformer_fused"
        self.stacker: Any = None  # LogisticRegression once fitted on two-class validation

    def _features(self, windows: WindowArrays) -> np.ndarray:
        prob, zl = self.model.score_arrays(windows.features)
        assert prob is not None and zl is not None
        p = np.clip(prob.astype(np.float64), 1e-6, 1 - 1e-6)
        return np.column_stack([np.log(p / (1 - p)), zl.astype(np.float64)])

    def fit(
        self,
        windows: WindowArrays,
        labels: np.ndarray | None = None,
        validation: tuple[WindowArrays, np.ndarray] | None = None,
    ) -> FusedDetector:
        from sklearn.linear_model import LogisticRegression

        super().fit(windows, labels, validation)
        assert validation is not None
        val, y = validation
        y = np.asarray(y).astype(int)
        self.stacker = None
        if np.unique(y).size == 2:
            self.stacker = LogisticRegression(class_weight="balanced", max_iter=1000)
            self.stacker.fit(self._features(val), y)
        # else: one class in validation (tiny data): nothing to weigh, the probability alone
        return self

    def score(self, windows: WindowArrays) -> np.ndarray:
        feats = self._features(windows)
        if self.stacker is None:
            return feats[:, 0]
        return self.stacker.decision_function(feats).astype(np.float64)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.result is not None and self.stacker is None:
            out["stack_weights"] = "none: one class in validation, probability alone"
        elif self.stacker is not None:
            out["stack_weights"] = {
                "logit_probability": round(float(self.stacker.coef_[0][0]), 4),
                "zero_label": round(float(self.stacker.coef_[0][1]), 4),
            }
        return out


class ZeroLabelDetector(Detector):
    """How surprising a window's events are to the pretrained encoder; no labels used."""

    supervised = False
    name = "zero_label"

    def __init__(self, settings: Settings, cache: PretrainCache | None = None) -> None:
        self.settings = _with_mode(settings, "none")
        self.cache = cache or PretrainCache()
        self.result: TrainResult | None = None

    def fit(
        self,
        windows: WindowArrays,
        labels: np.ndarray | None = None,
        validation: tuple[WindowArrays, np.ndarray] | None = None,
    ) -> ZeroLabelDetector:
        val = validation[0] if validation is not None else windows
        self.result = _train_on_cached(self.settings, self.cache, windows, val)
        return self

    def score(self, windows: WindowArrays) -> np.ndarray:
        if self.result is None:
            raise RuntimeError("zero_label: not fitted")
        _, zl = self.result.model.score_arrays(windows.features)
        assert zl is not None
        return zl.astype(np.float64)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["pretrain"] = self.cache.facts
        return out
