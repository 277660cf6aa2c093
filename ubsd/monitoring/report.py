"""The daily report a person opens: one PNG of the distributions, one self-contained HTML page
(metrics table plus the PNG embedded as data, so it can be mailed or attached as it is)."""

from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

from ubsd.monitoring.metric import Metric, fmt


def plot(metrics: list[Metric], title: str, path: Path) -> Path:
    """Reference vs today per distribution metric, and the flagged-rate series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [m for m in metrics if m.distribution is not None or "series" in m.extra]
    cols = 2
    rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    if not panels:
        axes[0][0].text(0.5, 0.5, "no distributions to show (empty day)", ha="center")
    for ax, m in zip(axes.flat, panels, strict=False):
        colour = "tab:red" if m.breached else "tab:blue"
        if m.distribution is not None:
            d = m.distribution
            x = range(len(d.labels))
            ax.bar([i - 0.2 for i in x], d.reference, width=0.4, color="0.7", label="reference")
            ax.bar([i + 0.2 for i in x], d.today, width=0.4, color=colour, label="today")
            ax.set_xticks(list(x))
            ax.set_xticklabels(d.labels, rotation=60, ha="right", fontsize=6)
            ax.set_ylabel("share")
            ax.legend(fontsize=7)
            ax.set_title(f"{m.name}: {fmt(m.value)}", fontsize=9, color=colour)
        else:
            labels, values = m.extra["series"]
            ax.bar(range(len(values)), values, color=["0.7"] * (len(values) - 1) + [colour])
            if m.reference is not None:
                ax.axhline(m.reference, color="k", lw=0.8, ls="--", label="reference")
                ax.legend(fontsize=7)
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=6)
            ax.set_title(f"{m.name}: {m.value:.2%}", fontsize=9, color=colour)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


_STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.bad{background:#fde2e1}
.skip{color:#777}.banner{padding:8px 12px;margin:1em 0;font-weight:bold}
.ok{background:#e3f5e1}.alert{background:#fde2e1}img{max-width:100%}"""


def html_page(
    date: dt.date, metrics: list[Metric], model: str, alerts: list[str], png: Path | None
) -> str:
    esc = html.escape
    rows = []
    for m in metrics:
        cls = "bad" if m.breached else ("skip" if m.skipped else "")
        cells = [
            m.name,
            fmt(m.value),
            fmt(m.reference),
            fmt(m.threshold),
            "ALERT" if m.breached else ("skipped" if m.skipped else "ok"),
            m.detail,
        ]
        rows.append(f'<tr class="{cls}">' + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    banner = (
        f'<div class="banner alert">{len(alerts)} alert(s):<br>'
        + "<br>".join(esc(a) for a in alerts)
        + "</div>"
        if alerts
        else '<div class="banner ok">no alerts</div>'
    )
    img = ""
    if png is not None and png.is_file():
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        img = f'<img alt="distributions" src="data:image/png;base64,{data}">'
    head = "".join(
        f"<th>{h}</th>" for h in ("metric", "value", "reference", "threshold", "status", "detail")
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>ubsd monitor {date}</title><style>{_STYLE}</style></head><body>"
        f"<h1>ubsd monitor: {date}</h1><p>model: {esc(model)}</p>{banner}"
        f"<table><tr>{head}</tr>{''.join(rows)}</table>{img}</body></html>"
    )


def write_report(
    folder: Path, date: dt.date, metrics: list[Metric], model: str, alerts: list[str]
) -> dict[str, str]:
    """Write ``monitor.png`` and ``monitor.html`` into ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    png = plot(metrics, f"ubsd monitor {date} ({model})", folder / "monitor.png")
    page = folder / "monitor.html"
    page.write_text(html_page(date, metrics, model, alerts, png), encoding="utf-8")
    return {"png": str(png), "html": str(page)}
