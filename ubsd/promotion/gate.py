"""The promotion gate: when may a challenger replace the champion?

Rules (all configurable, see ``promotion.*``): the challenger's PR-AUC must beat the champion's
by more than ``min_pr_auc_gain``, and no fraud type's recall may drop by more than
``max_type_recall_drop``; with no champion yet, the challenger must pass absolute floors.
Both are measured on the same held-out windows.

>>> from ubsd.config import PromotionSettings
>>> rules = PromotionSettings(min_pr_auc_gain=0.01, max_type_recall_drop=0.05)
>>> champ = {"pr_auc": 0.80, "roc_auc": 0.95, "recall_by_type": {"click_bot": 0.9}}
>>> decide({"pr_auc": 0.85, "roc_auc": 0.96, "recall_by_type": {"click_bot": 0.88}},
...        champ, rules).promote
True
>>> d = decide({"pr_auc": 0.85, "roc_auc": 0.96, "recall_by_type": {"click_bot": 0.7}},
...            champ, rules)
>>> d.promote, d.reasons
(False, ['recall on click_bot drops 0.200 (0.900 -> 0.700), more than 0.050'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ubsd.config import PromotionSettings


@dataclass
class Decision:
    promote: bool
    reasons: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    rules: PromotionSettings,
) -> Decision:
    """Compare metrics dicts (pr_auc, roc_auc, recall_by_type) and decide."""
    refuse: list[str] = []
    checks: list[str] = []
    if champion is None:
        for key, floor in (("pr_auc", rules.floor_pr_auc), ("roc_auc", rules.floor_roc_auc)):
            got = float(challenger[key])
            line = f"first model: {key} {got:.3f} vs floor {floor:.3f}"
            (checks if got >= floor else refuse).append(line)
        return Decision(promote=not refuse, reasons=refuse, checks=checks)
    gain = float(challenger["pr_auc"]) - float(champion["pr_auc"])
    line = (
        f"PR-AUC {champion['pr_auc']:.3f} -> {challenger['pr_auc']:.3f} "
        f"(gain {gain:+.3f}, needs > {rules.min_pr_auc_gain:.3f})"
    )
    (checks if gain > rules.min_pr_auc_gain else refuse).append(line)
    old = champion.get("recall_by_type") or {}
    new = challenger.get("recall_by_type") or {}
    for ftype in sorted(old):
        before, after = float(old[ftype]), float(new.get(ftype, 0.0))
        drop = before - after
        if drop > rules.max_type_recall_drop:
            refuse.append(
                f"recall on {ftype} drops {drop:.3f} ({before:.3f} -> {after:.3f}), "
                f"more than {rules.max_type_recall_drop:.3f}"
            )
        else:
            checks.append(f"recall on {ftype} {before:.3f} -> {after:.3f}")
    return Decision(promote=not refuse, reasons=refuse, checks=checks)
