"""The transformer behind the one detector contract: fine-tuned, zero-label and fused, sharing
one pretrained encoder (as the evaluation report runs them)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import TINY_TRAINING, make_settings
from sklearn.metrics import roc_auc_score
from window_factory import make_windows

from ubsd.evaluation.methods import transformer_methods
from ubsd.sessionize.spec import feature_spec


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("det"), *TINY_TRAINING)
    spec = feature_spec(settings.sessionize)
    train = make_windows(spec, 150, 30, seed=0)
    val = make_windows(spec, 100, 20, seed=1, user_prefix="v", bot_prefix="vb")
    test = make_windows(spec, 100, 20, seed=2, user_prefix="t", bot_prefix="tb")
    methods = transformer_methods(settings)
    out = {}
    for name in ("transformer_full", "zero_label", "transformer_fused"):
        det = methods[name]().fit(train, train.labels, validation=(val, val.labels))
        det.calibrate(val, val.labels, target_precision=0.8)
        out[name] = (det, det.score(test))
    return test, out


@pytest.mark.parametrize("name", ["transformer_full", "zero_label", "transformer_fused"])
def test_each_ranks_click_bots_above_shoppers(fitted, name):
    test, out = fitted
    det, scores = out[name]
    assert scores.shape == (test.n,) and np.isfinite(scores).all()
    assert np.unique(np.round(scores, 6)).size > 10  # collapse guard
    assert roc_auc_score(test.labels, scores) >= 0.9
    assert det.threshold_ is not None and det.predict(test).any()


def test_all_three_share_one_pretrained_encoder(fitted):
    _, out = fitted
    full, zl, fused = (out[n][0] for n in ("transformer_full", "zero_label", "transformer_fused"))
    assert full.cache is zl.cache is fused.cache and full.cache.facts["steps"] > 0


def test_fused_reports_its_stacking_weights(fitted):
    _, out = fitted
    w = out["transformer_fused"][0].describe()["stack_weights"]
    assert set(w) == {"logit_probability", "zero_label"}
    assert w["logit_probability"] > 0  # the supervised probability carries the signal


def test_fused_falls_back_to_the_probability_on_one_class_validation(fitted):
    """Tiny validation sets can hold one class (the weekly DAG's end-to-end run did)."""
    from ubsd.training.detector import FusedDetector

    test, out = fitted
    full = out["transformer_full"][0]
    spec = feature_spec(full.settings.sessionize)
    train = make_windows(spec, 150, 30, seed=0)
    bots_only = make_windows(spec, 0, 20, seed=1, user_prefix="v", bot_prefix="vb")
    det = FusedDetector(full.settings, full.cache).fit(
        train, train.labels, validation=(bots_only, bots_only.labels)
    )
    assert det.stacker is None and "one class" in det.describe()["stack_weights"]
    prob, _ = det.model.score_arrays(test.features, zero_label=False)
    p = np.clip(prob, 1e-6, 1 - 1e-6)
    np.testing.assert_allclose(det.score(test), np.log(p / (1 - p)), rtol=1e-5, atol=1e-5)
