"""The behavior transformer: shapes, masking, persistence, vocabularies, zero-label and fine-tune.

One tiny model is pretrained and fine-tuned once per module on hand-made windows (numpy only).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make_settings
from sklearn.metrics import roc_auc_score
from window_factory import make_windows

from ubsd.model.artifact import FeatureSpecMismatchError, ModelLoadError, load_model
from ubsd.model.network import BehaviorConfig, BehaviorNet
from ubsd.model.vocab import UNKNOWN_ID
from ubsd.sessionize.spec import feature_spec
from ubsd.training.tensors import random_hide
from ubsd.training.trainer import TrainSource, pretrained_encoder, train_model

STEPS = [
    "model.size=tiny",
    "sessionize.window_length=16",
    "sessionize.window_stride=8",
    "training.batch_size=32",
    "training.max_pretrain_steps=150",
    "training.max_finetune_steps=80",
    "training.eval_every=25",
    "training.patience=3",
    "training.target_precision=0.8",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(2)
    settings = make_settings(tmp_path_factory.mktemp("model"), *STEPS)
    spec = feature_spec(settings.sessionize)
    train = make_windows(spec, 600, 40, seed=1)
    val = make_windows(spec, 200, 15, seed=2, user_prefix="v")
    test = make_windows(spec, 200, 15, seed=3, user_prefix="t")
    pre = pretrained_encoder(TrainSource(16, windows=train), val, settings, spec, progress=False)
    full = train_model(
        TrainSource(16, windows=train), val, settings, spec, progress=False, pretrained=pre
    )
    return settings, spec, train, val, test, pre, full


@pytest.fixture(scope="module")
def unsupervised(setup):
    settings, spec, train, val, _, pre, _ = setup
    none = settings.model_copy(
        update={"training": settings.training.model_copy(update={"finetune_mode": "none"})}
    )
    return train_model(
        TrainSource(16, windows=train), val, none, spec, progress=False, pretrained=pre
    )


def test_network_shapes_and_masking():
    cfg = BehaviorConfig.for_size(
        "tiny", 8, {"event_type_ids": 10, "dt_buckets": 8, "item_buckets": 16}
    )
    net = BehaviorNet(cfg).eval()
    feats = {k: torch.randint(2, 8, (4, 8)) for k in cfg.vocab_sizes}
    mask = torch.tensor([[1] * 8, [1] * 3 + [0] * 5, [1] + [0] * 7, [1] * 5 + [0] * 3])
    hidden = net.encode(feats, mask)
    assert hidden.shape == (4, 8, 64)
    assert {k: v.shape[-1] for k, v in net.mlm_logits(hidden).items()} == cfg.vocab_sizes
    hide = random_hide(mask, 0.15, torch.Generator().manual_seed(0))
    assert (hide <= mask.bool()).all(), "only real events are masked"
    assert hide.any(1).all(), "every window has at least one masked event"
    gru = BehaviorNet(
        BehaviorConfig.for_size(
            "tiny", 8, {"event_type_ids": 10, "dt_buckets": 8, "item_buckets": 16}, head="gru"
        )
    ).eval()
    logits = gru.fraud_logits(feats, mask)
    assert logits.shape == (4,) and torch.isfinite(logits).all()
    # The zero-label score hides each real event exactly once, padding never.
    nll = net.event_surprise(feats, mask, passes=3)
    assert ((nll > 0) == mask.bool()).all()


def test_pretraining_learns_and_stops_by_rule(setup):
    _, _, _, _, _, pre, _ = setup
    res = pre[2]
    first, best = res.history[0], min(h["loss"] for h in res.history)
    assert best < first["loss"], "validation loss improves"
    assert res.history[-1]["acc_event_type_ids"] > 0.3, "masked event types beat chance (0.25)"
    assert res.stopped_because  # a documented rule decided
    assert {"acc_dt_buckets", "acc_item_buckets", "loss_event_type_ids"} <= set(res.history[0])


def test_zero_label_ranks_click_bots_above_shoppers(setup, unsupervised):
    """Pretrained only, no labels anywhere (6 % of the training traffic are bots)."""
    test = setup[4]
    model = unsupervised.model
    assert not model.has_classifier and model.threshold is None
    prob, zl = model.score_arrays(test.features)
    assert prob is None
    y = test.labels
    assert roc_auc_score(y, zl) > 0.9
    assert np.median(zl[y == 1]) > np.quantile(zl[y == 0], 0.9)
    assert zl.std() > 1e-3, "zero-label scores collapsed to a constant"


def test_finetuned_detector_beats_chance_and_scores_vary(setup):
    _, _, _, _, test, _, full = setup
    prob, _ = full.model.score_arrays(test.features, zero_label=False)
    assert roc_auc_score(test.labels, prob) >= 0.9  # floor, as PyOD's tests do
    assert prob.std() > 1e-3, "scores collapsed to a constant"
    assert full.model.threshold is not None and 0 < full.model.threshold <= 1


def test_length_grouped_trimmed_batches_score_like_full_width(setup):
    """score_arrays sorts windows by length and cuts each forward after its last event; the
    scores must equal one full-width forward, window for window."""
    _, _, _, _, test, _, full = setup
    rng = np.random.default_rng(7)
    feats = {k: np.array(v, copy=True) for k, v in test.features.items()}
    keep = rng.integers(1, 17, size=feats["mask"].shape[0])  # 1..16 events, 16 = untouched
    cut = np.arange(feats["mask"].shape[1])[None, :] >= keep[:, None]
    for v in feats.values():
        v[cut] = 0
    model = full.model
    t, m = model.tensors(feats)
    with torch.inference_mode():
        logits, dist = model.net.eval().score_both(t, m)
    p, z = model.score_arrays(feats, batch_size=7)
    np.testing.assert_allclose(p, torch.sigmoid(logits).numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(z, dist.numpy(), rtol=0, atol=1e-4)
    p_only, none = model.score_arrays(feats, batch_size=5, zero_label=False)
    np.testing.assert_allclose(p_only, p, rtol=0, atol=1e-5)
    assert none is None and len(set(np.round(p, 4))) > 10


def test_save_load_round_trip_gives_identical_scores(setup, tmp_path):
    _, _, _, _, test, _, full = setup
    d = full.model.save(tmp_path / "m")
    again = load_model(d)
    p1, z1 = full.model.score_arrays(test.features)
    p2, z2 = again.score_arrays(test.features)
    np.testing.assert_allclose(p1, p2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(z1, z2, rtol=0, atol=1e-5)
    assert again.threshold == full.model.threshold and again.version == full.model.version
    (d / "network" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="cannot load weights"):
        load_model(d)


def test_model_refuses_other_feature_spec_and_maps_unseen_ids(setup):
    settings, _, _, _, _test, _, full = setup
    other = feature_spec(settings.sessionize.model_copy(update={"item_buckets": 512}))
    with pytest.raises(FeatureSpecMismatchError, match="re-sessionize"):
        full.model.check_spec(other.version)
    full.model.check_spec(full.model.spec.version)
    seen = set(full.model.vocab.seen["event_type_ids"])
    unseen = next(i for i in range(2, 10) if i not in seen)
    mapped = full.model.vocab.apply({"event_type_ids": np.array([[unseen]])})
    assert mapped["event_type_ids"][0, 0] == UNKNOWN_ID


def test_lora_saves_only_adapter_weights_and_reloads(setup, tmp_path):
    from safetensors import safe_open

    settings, spec, train, val, test, pre, _ = setup
    lora_settings = settings.model_copy(
        update={
            "training": settings.training.model_copy(
                update={"finetune_mode": "lora", "max_finetune_steps": 40}
            )
        }
    )
    res = train_model(
        TrainSource(16, windows=train), val, lora_settings, spec, progress=False, pretrained=pre
    )
    d = res.model.save(tmp_path / "lora")
    with safe_open(str(d / "adapter" / "adapter_model.safetensors"), "pt") as fh:
        keys = list(fh.keys())
    assert keys and all("lora_" in k or "classifier" in k for k in keys), keys[:5]
    n_adapter = sum(1 for _ in keys)
    assert n_adapter < len(res.model.net.state_dict())
    again = load_model(d)
    p1, _ = res.model.score_arrays(test.features, zero_label=False)
    p2, _ = again.score_arrays(test.features, zero_label=False)
    np.testing.assert_allclose(p1, p2, atol=1e-5)
