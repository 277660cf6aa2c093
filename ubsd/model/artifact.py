"""A trained model on disk: network weights (safetensors) plus everything needed to use them.

Layout of a model directory::

    ubsd_model.json     feature spec, vocabulary, thresholds, version, training facts
    network/            BehaviorNet.save_pretrained (config.json + model.safetensors)
    adapter/            LoRA only: the peft adapter (adapter_model.safetensors); network/
                        then holds the pretrained base it applies to

Models are loaded only from such a directory: no hub, no pickles.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ubsd.io.schemas import WINDOW_FEATURE_ARRAYS
from ubsd.model.network import BehaviorNet
from ubsd.model.vocab import Vocabulary
from ubsd.sessionize.spec import FeatureSpec

MANIFEST = "ubsd_model.json"
FORMAT_VERSION = 1


class ModelLoadError(RuntimeError):
    """A model directory is missing, incomplete or corrupt."""


class FeatureSpecMismatchError(ValueError):
    """Windows were produced with a feature spec the model was not trained on."""


def used_length(mask: np.ndarray) -> np.ndarray:
    """Per window, one past its last real position (0 for an empty window).

    >>> used_length(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]))
    array([2, 3, 0])
    """
    m = np.asarray(mask) != 0
    if m.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    last = m.shape[1] - np.argmax(m[:, ::-1], axis=1)
    return np.where(m.any(axis=1), last, 0)


@dataclass
class BehaviorModel:
    """The network with its feature spec, vocabulary and stored thresholds."""

    net: BehaviorNet
    spec: FeatureSpec
    vocab: Vocabulary
    #: Fraud-probability threshold chosen on validation (None: no fine-tuned classifier).
    threshold: float | None = None
    #: Zero-label score threshold (alert budget on validation traffic).
    zero_label_threshold: float | None = None
    has_classifier: bool = False
    mode: str = "pretrained"  # pretrained | full | lora
    info: dict[str, Any] = field(default_factory=dict)
    adapter_dir: Path | None = None

    @property
    def version(self) -> str:
        """Content digest of weights' identity: spec, vocabulary, thresholds and training id."""
        body = json.dumps(
            [self.spec.version, self.vocab.version, self.threshold, self.info.get("trained_id")],
            default=str,
        )
        return "m-" + hashlib.sha256(body.encode()).hexdigest()[:12]

    def check_spec(self, feature_version: str) -> None:
        if feature_version != self.spec.version:
            raise FeatureSpecMismatchError(
                f"windows have feature spec {feature_version!r} but the model was trained on "
                f"{self.spec.version!r}: re-sessionize with the model's settings "
                f"(window_length={self.spec.window_length}, stride={self.spec.window_stride}, "
                f"vocab sizes {self.spec.vocab_sizes}) or train a model on these windows"
            )

    # --- inference --------------------------------------------------------------------------
    def tensors(
        self, features: dict[str, np.ndarray], device: torch.device | str = "cpu"
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        mapped = self.vocab.apply({k: features[k] for k in WINDOW_FEATURE_ARRAYS})
        feats = {k: torch.as_tensor(v, dtype=torch.long, device=device) for k, v in mapped.items()}
        mask = torch.as_tensor(np.asarray(features["mask"]), dtype=torch.long, device=device)
        return feats, mask

    @torch.inference_mode()
    def score_arrays(
        self,
        features: dict[str, np.ndarray],
        batch_size: int = 256,
        device: torch.device | str | None = None,
        autocast_dtype: torch.dtype | None = None,
        zero_label: bool = True,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Fraud probability (None without a classifier) and zero-label score per window.

        Windows are batched by length and each batch is cut after its last real event: short
        windows (one-event users, short sessions) then cost what they hold, not the full window
        length. Exact, because padded positions are masked out of attention, pooling and the
        zero-label plan, and positions keep their indices.
        """
        dev = torch.device(device) if device else next(self.net.parameters()).device
        self.net.eval()
        mask_all = np.asarray(features["mask"])
        n = int(mask_all.shape[0])
        extent = used_length(mask_all)
        order = np.argsort(extent, kind="stable")
        prob = np.zeros(n, np.float32) if self.has_classifier else None
        zl = np.zeros(n, np.float32) if zero_label else None
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            width = max(1, int(extent[idx].max()))
            part = {k: np.asarray(v)[idx, :width] for k, v in features.items()}
            feats, mask = self.tensors(part, dev)
            with torch.autocast(
                device_type=dev.type, dtype=autocast_dtype, enabled=autocast_dtype is not None
            ):
                if self.has_classifier and zero_label:
                    logits, dist = self.net.score_both(feats, mask)
                    prob[idx] = torch.sigmoid(logits.float()).cpu().numpy()
                    zl[idx] = dist.float().cpu().numpy()
                elif self.has_classifier:
                    logits = self.net.fraud_logits(feats, mask)
                    prob[idx] = torch.sigmoid(logits.float()).cpu().numpy()
                elif zero_label:
                    zl[idx] = self.net.zero_label_scores(feats, mask).float().cpu().numpy()
        return prob, zl

    # --- persistence ------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "model_version": self.version,
            "feature_spec": json.loads(self.spec.to_json()),
            "vocabulary": json.loads(self.vocab.to_json()),
            "threshold": self.threshold,
            "zero_label_threshold": self.zero_label_threshold,
            "has_classifier": self.has_classifier,
            "mode": self.mode,
            "info": self.info,
            "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    def save(self, directory: str | Path, base: BehaviorNet | None = None) -> Path:
        """Write the model directory. For LoRA, ``net`` is the PeftModel and ``base`` unused:
        the adapter goes to ``adapter/`` and the pretrained base to ``network/``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        net: Any = self.net
        if self.mode == "lora":
            net.save_pretrained(str(out / "adapter"))
            # The pretrained base without the injected LoRA layers (buffers kept).
            import copy

            copy.deepcopy(net).unload().save_pretrained(str(out / "network"))
        else:
            net.save_pretrained(str(out / "network"))
        (out / MANIFEST).write_text(json.dumps(self.manifest(), indent=2, default=str))
        return out


def load_model(
    directory: str | Path, device: torch.device | str = "cpu", merge_lora: bool = True
) -> BehaviorModel:
    """Load a model directory written by :meth:`BehaviorModel.save` (safetensors only)."""
    d = Path(directory)
    man_path = d / MANIFEST
    if not man_path.is_file():
        raise ModelLoadError(f"{d}: not a ubsd model directory (no {MANIFEST})")
    try:
        man = json.loads(man_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{man_path}: corrupt manifest ({exc})") from None
    if man.get("format") != FORMAT_VERSION:
        raise ModelLoadError(f"{d}: model format {man.get('format')} is not {FORMAT_VERSION}")
    weights = d / "network" / "model.safetensors"
    if not weights.is_file():
        raise ModelLoadError(f"{d}: missing weights {weights.relative_to(d)}")
    try:
        net: Any = BehaviorNet.from_pretrained(str(d / "network"), use_safetensors=True)
        if man["mode"] == "lora":
            from peft import PeftModel

            net = PeftModel.from_pretrained(net, str(d / "adapter"))
            if merge_lora:
                net = net.merge_and_unload()
    except Exception as exc:  # safetensors/peft raise many types for corrupt files
        raise ModelLoadError(f"{d}: cannot load weights: {type(exc).__name__}: {exc}") from None
    net.to(device).eval()
    spec_d = man["feature_spec"]
    spec = FeatureSpec.from_json(json.dumps(spec_d))
    model = BehaviorModel(
        net=net,
        spec=spec,
        vocab=Vocabulary.from_json(json.dumps(man["vocabulary"])),
        threshold=man.get("threshold"),
        zero_label_threshold=man.get("zero_label_threshold"),
        has_classifier=bool(man.get("has_classifier")),
        mode=man["mode"],
        info=man.get("info", {}),
        adapter_dir=(d / "adapter") if man["mode"] == "lora" else None,
    )
    if model.version != man.get("model_version"):
        raise ModelLoadError(f"{d}: manifest version {man.get('model_version')} does not match")
    return model
