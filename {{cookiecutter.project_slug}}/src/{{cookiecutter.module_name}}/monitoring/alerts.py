"""Telling people about a verdict: a banner atop drift.html, and a webhook message when a check fails.

The message is Slack-compatible JSON ({"text": ...}); most chat tools and alert routers accept it.
docs/failure-cases.md says, for each failed check, what usually causes it and what to check first.
"""

from __future__ import annotations

import html
import json
import os
import re
import urllib.request
from pathlib import Path
from typing import Any

from ..config import ALERT_WEBHOOK_ENV_VAR

FAILURE_CASES = "docs/failure-cases.md"


def describe_failures(project_name: str, summary: dict[str, Any], failed: list[str]) -> str:
    """One message: which checks failed, with their figures, and where to look first."""
    lines = [f"{project_name}: monitor failed ({', '.join(failed)}) over {summary['rows']} predictions"]
    if "live_quality" in failed:
        quality = summary["live_quality"]
        name = quality["primary_metric"]
        values = quality["metrics"][name]
        lines.append(f"live {name} {values['live']:.4f} vs held out {values['held_out']:.4f} "
                     f"(tolerance {100 * quality['tolerance']:g}%, {quality['labelled_rows']} labels)")  # fmt: skip
    if "prediction_drift" in failed:
        method = summary["prediction"]["method"]
        lines.append(f"predictions drifted from the model's on the training rows ({method})")
    if "input_drift" in failed:
        lines.append(f"input drift in {', '.join(summary['drifted_columns'])}")
    lines.append(f"what to check first: {FAILURE_CASES}#{failed[0].replace('_', '-')}")
    return "\n".join(lines)


def alert(project_name: str, summary: dict[str, Any], failed: list[str]) -> str:
    """POST the failures to $ALERT_WEBHOOK_URL if it is set; return the line `monitor` prints about it."""
    url = os.environ.get(ALERT_WEBHOOK_ENV_VAR)
    if not url:
        return f"no alert sent: set {ALERT_WEBHOOK_ENV_VAR} to a webhook to get one"
    body = json.dumps({"text": describe_failures(project_name, summary, failed)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            return f"alert sent to ${ALERT_WEBHOOK_ENV_VAR}"
    except OSError as exc:  # refused, timed out, or an HTTP error status
        return f"[yellow]alert not sent:[/yellow] the webhook did not take the alert ({exc})"


def add_banner(report: Path, lines: list[str], trend: str) -> None:
    """Put the verdict lines (rich markup removed) and a link to the trend figure atop the HTML report."""
    text = "<br>".join(html.escape(re.sub(r"\[/?[a-z ]+\]", "", line).strip()) for line in lines)
    link = f'<a href="{trend}">the trend over the dated history ({trend})</a>'
    banner = (
        f'<div style="font-family:sans-serif;padding:1em;border-bottom:1px solid #ccc">{text}<br>{link}</div>'
    )
    page = report.read_text(encoding="utf-8")
    report.write_text(page.replace("<body>", f"<body>{banner}", 1), encoding="utf-8")
