"""The named methods of the evaluation report: one line each, all behind the Detector contract.

Add a method by adding a factory (a no-argument callable returning a fresh, unfitted detector).
The report fits each factory's detector once per run (and once per held-out type when it is
supervised), so factories must not share fitted state unless that is intended (e.g. reusing a
pretrained encoder across leave-one-type-out refits).
"""

from __future__ import annotations

from ubsd.config import Settings
from ubsd.detectors.base import Detector
from ubsd.detectors.deeplog import DeepLogDetector
from ubsd.detectors.gbt import GBTDetector
from ubsd.detectors.isolation_forest import IsolationForestDetector
from ubsd.detectors.rules import RulesDetector
from ubsd.evaluation.report import DetectorFactory
from ubsd.training.detector import (
    FusedDetector,
    PretrainCache,
    TransformerDetector,
    ZeroLabelDetector,
)

BASELINES: dict[str, DetectorFactory] = {
    "rules": lambda: RulesDetector(quantile=0.99),
    "isolation_forest": lambda: IsolationForestDetector(n_estimators=200, seed=0),
    "gbt": lambda: GBTDetector(max_iter=400, learning_rate=0.05, seed=0),
    "deeplog": lambda: DeepLogDetector(score_kind="nll", max_epochs=8, max_seconds=300, seed=0),
}


# ---- transformer methods ---------------------------------------------------------------------
# They need settings (size, step caps); all share one pretrained encoder per evaluation.
def transformer_methods(settings: Settings) -> dict[str, DetectorFactory]:
    cache = PretrainCache()
    return {
        "transformer_full": lambda: TransformerDetector(settings, "full", cache),
        "transformer_lora": lambda: TransformerDetector(settings, "lora", cache),
        "zero_label": lambda: ZeroLabelDetector(settings, cache),
        # the probability stacked with the zero-label score (evaluation only): does fusing help?
        "transformer_fused": lambda: FusedDetector(settings, cache),
    }


TRANSFORMERS: dict[str, DetectorFactory] = transformer_methods(Settings())
# ----------------------------------------------------------------------------------------------

METHODS: dict[str, DetectorFactory] = {**TRANSFORMERS, **BASELINES}


def make(name: str) -> Detector:
    """A fresh detector of a named method."""
    try:
        return METHODS[name]()
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(METHODS)}") from None
