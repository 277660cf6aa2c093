"""The MLflow pyfunc flavour of a ubsd model: safetensors weights as an artifact, no pickles.

``mlflow.pyfunc.load_model("models:/NAME@champion").predict(df)`` takes a DataFrame with one
int array column per model input (see :data:`~ubsd.io.schemas.WINDOW_MODEL_INPUTS`) plus
``feature_version`` and returns ``fraud_probability`` and ``zero_label_score``.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd

from ubsd.io.schemas import WINDOW_MODEL_INPUTS

ARTIFACT_KEY = "model_dir"


class BehaviorPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from ubsd.model.artifact import load_model

        self.model = load_model(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        if "feature_version" in model_input:
            for fv in pd.unique(model_input["feature_version"]):
                self.model.check_spec(str(fv))
        feats = {c: np.stack(model_input[c].to_numpy()) for c in WINDOW_MODEL_INPUTS}
        prob, zl = self.model.score_arrays(feats)
        n = len(model_input)
        return pd.DataFrame(
            {
                "fraud_probability": prob if prob is not None else np.full(n, np.nan),
                "zero_label_score": zl,
            }
        )


def input_example(window_length: int, feature_version: str, rows: int = 2) -> pd.DataFrame:
    """A valid input frame (windows of one event of unknown type)."""
    one = [1] + [0] * (window_length - 1)
    data: dict[str, Any] = {c: [list(one) for _ in range(rows)] for c in WINDOW_MODEL_INPUTS}
    data["feature_version"] = [feature_version] * rows
    return pd.DataFrame(data)
