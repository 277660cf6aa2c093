"""Reasons for flagged windows: top-k events (structured) plus a readable sentence.

Runs on the driver over at most ``scoring.explain_max_windows`` windows per day (the highest
scores first), so its cost is bounded whatever the day's volume; it is timed on its own.
"""

from __future__ import annotations

from typing import Any

import torch

from ubsd.config import ScoringSettings
from ubsd.io.schemas import WINDOW_MODEL_INPUTS
from ubsd.io.window_arrays import WindowArrays
from ubsd.model.artifact import BehaviorModel
from ubsd.scoring.attribution import event_attributions, top_events
from ubsd.scoring.reason_text import reason_text

#: Windows-table columns the reasons step reads for each flagged window.
REASON_INPUTS: tuple[str, ...] = (
    "window_id",
    *WINDOW_MODEL_INPUTS,
    "event_types",
    "item_ids",
    "dt_seconds",
)


def explain_rows(
    model: BehaviorModel,
    rows: list[dict[str, Any]],
    cfg: ScoringSettings,
    device: torch.device | str = "cpu",
) -> list[dict[str, Any]]:
    """``[{window_id, reasons: [REASON_STRUCT...], reason_text}]`` for the given windows."""
    if not rows:
        return []
    length = model.spec.window_length
    cols = {c: [r[c] for r in rows] for c in (*WINDOW_MODEL_INPUTS, "dt_seconds")}
    w = WindowArrays.from_columns(cols, length)
    contrib = event_attributions(
        model,
        w.features,
        method=cfg.explain_method,
        steps=cfg.explain_steps,
        batch_size=cfg.explain_batch_size,
        device=device,
    )
    out = []
    for i, (row, top) in enumerate(
        zip(rows, top_events(contrib, w.mask, cfg.explain_top_k), strict=True)
    ):
        types, items = list(row["event_types"]), list(row["item_ids"])
        reasons = [
            {
                "event_index": j,
                "event_type": types[j] if j < len(types) else None,
                "item_id": items[j] if j < len(items) else None,
                "contribution": round(c, 6),
            }
            for j, c in top
        ]
        n = int(w.mask[i].sum())
        text = reason_text(
            types[:n],
            items[:n],
            list(row["dt_seconds"])[:n],
            list(row["sponsored_flags"])[:n],
            [j for j, c in top if c > 0] or [j for j, _ in top],
        )
        out.append({"window_id": row["window_id"], "reasons": reasons, "reason_text": text})
    return out
