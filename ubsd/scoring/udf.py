"""The scoring pandas UDF: ``predict_batch_udf`` over the windows' feature arrays.

All model inputs travel as ONE flattened int array column (``concat`` of the feature arrays and
the mask), reshaped to ``(batch, F, L)``: one ``vstack`` per batch instead of one per feature.
Both outputs (fraud probability and zero-label score) come from one batched encoder
forward (the window plus ``zero_label_passes`` masked copies; see docs/scoring.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import FloatType, StructField, StructType

from ubsd.config import Settings
from ubsd.io.schemas import WINDOW_MODEL_INPUTS
from ubsd.scoring.pin import PinnedModel

SCORES_TYPE = StructType(
    [
        StructField("fraud_probability", FloatType(), True),
        StructField("zero_label_score", FloatType(), True),
    ]
)


def make_predict_fn(pinned: PinnedModel, settings: Settings) -> Callable[[], Callable[..., Any]]:
    """Runs in the worker: load once, return the batch predict function."""

    def make() -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        from ubsd.scoring.worker import load_for_inference, stacked_features

        model, device, dtype = load_for_inference(pinned, settings)
        batch = settings.scoring.batch_size

        def predict(x: np.ndarray) -> dict[str, np.ndarray]:
            feats = stacked_features(x, WINDOW_MODEL_INPUTS)
            prob, zl = model.score_arrays(feats, batch, device=device, autocast_dtype=dtype)
            n = x.shape[0]
            return {
                "fraud_probability": (prob if prob is not None else np.full(n, np.nan)).astype(
                    np.float32
                ),
                "zero_label_score": np.asarray(zl, dtype=np.float32),
            }

        return predict

    return make


def packed_inputs() -> Column:
    """All model inputs as one int array column (F x L values per window)."""
    return F.concat(*[F.col(c) for c in WINDOW_MODEL_INPUTS])


def scores_udf(pinned: PinnedModel, settings: Settings) -> Callable[..., Column]:
    from pyspark.ml.functions import predict_batch_udf

    # The UDF hands the model a whole Arrow batch; score_arrays groups it by window length
    # into forwards of scoring.batch_size, so short windows are batched with short ones.
    cfg = settings.scoring
    return predict_batch_udf(
        make_predict_fn(pinned, settings),
        return_type=SCORES_TYPE,
        batch_size=max(cfg.batch_size, cfg.arrow_batch_size),
        input_tensor_shapes=[[len(WINDOW_MODEL_INPUTS), pinned.window_length]],
    )
