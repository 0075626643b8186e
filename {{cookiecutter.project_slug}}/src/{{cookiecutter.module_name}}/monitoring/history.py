"""The dated history of `monitor` runs (reports/monitoring/history/) and its trend figure, trend.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TREND = "trend.png"


def write_history(folder: Path, summary: dict[str, Any]) -> None:
    """Write drift.json, a dated copy in history/ (the ~4 MB HTML is kept for the last run only), and the trend."""
    text = json.dumps(summary, indent=2, default=str) + "\n"
    stamp = summary["created"].replace(":", "").replace("-", "").replace("+0000", "Z")
    (folder / "history").mkdir(parents=True, exist_ok=True)
    (folder / "history" / f"drift-{stamp}.json").write_text(text, encoding="utf-8")
    (folder / "drift.json").write_text(text, encoding="utf-8")
    runs = [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("history/drift-*.json"))
    ]
    draw_trend(runs, folder / TREND)


def draw_trend(runs: list[dict[str, Any]], path: Path) -> None:
    """Over the runs' dates: the share of drifted features against its threshold, and live quality's
    primary metric against its held-out figure and the tolerated limit (a gap where it was not judged)."""
    import pandas as pd
    from matplotlib.figure import Figure

    rows = []
    for run in runs:
        quality = run["live_quality"]
        metric = quality["metrics"].get(quality["primary_metric"], {})
        rows.append({"drift_share": run["drift_share"], "threshold": run["threshold"], "live": metric.get("live"),
                     "held_out": metric.get("held_out"), "limit": quality.get("limit")})  # fmt: skip
    trend = pd.DataFrame(rows).astype(float)
    dates = pd.to_datetime([run["created"] for run in runs], utc=True).tz_localize(None)
    figure = Figure(figsize=(8, 5), dpi=100, layout="constrained")
    drift, quality = figure.subplots(2, 1, sharex=True)
    drift.plot(dates, trend["drift_share"], "o-", label="share of features drifted")
    drift.plot(dates, trend["threshold"], "r--", label="input drift from")
    quality.plot(dates, trend["live"], "o-", label=f"live {runs[-1]['live_quality']['primary_metric']}")
    quality.plot(dates, trend["held_out"], "k:", label="held out")
    quality.plot(dates, trend["limit"], "r--", label="fails beyond (quality_tolerance)")
    for axes, title in ((drift, "input drift"), (quality, "live quality")):
        axes.set_title(title, loc="left")
        axes.legend(fontsize="small")
    figure.autofmt_xdate()
    figure.savefig(path)
