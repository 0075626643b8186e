"""Render reports/model_card.md from real numbers: metrics.json, the data contract and the config.

Every limitation and risk in the card is derived from a fact measured in this run, so the card
changes when the model or the data change. The README's results table is refreshed in place.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Project
from .schema import CATEGORICAL, NUMERIC, Contract

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"
SMALL_DATA_ROWS = 1000
IMBALANCE_RATIO = 3.0


def collect_facts(
    project: Project, train: pd.DataFrame, test: pd.DataFrame, contract: Contract
) -> dict[str, Any]:
    """Measure the data facts the card reasons about: sizes, class balance, out-of-range rows."""
    out_of_range, unseen = {}, {}
    for feature in contract.features:
        column = test[feature.name]
        if feature.kind == NUMERIC and feature.minimum is not None:
            count = int(((column < feature.minimum) | (column > feature.maximum)).sum())
            if count:
                out_of_range[feature.name] = count
        elif feature.kind == CATEGORICAL and feature.categories:
            count = int((~column.astype(str).isin(feature.categories)).sum())
            if count:
                unseen[feature.name] = count
    y = train[contract.target]
    prepared = (project.processed_dir / "train.parquet").stat().st_mtime
    return {
        "source": project.config.data.path or project.config.data.source,
        "n_train": len(train),
        "n_test": len(test),
        "prepared": pd.Timestamp(prepared, unit="s", tz="UTC").isoformat(timespec="seconds"),
        "class_counts": {str(k): int(v) for k, v in y.value_counts().items()}
        if contract.task == "classification"
        else None,
        "missing_share": {f.name: f.missing_share for f in contract.features if f.missing_share > 0},
        "out_of_range": out_of_range,
        "unseen_categories": unseen,
    }


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}"


def _slice_name(entry: dict[str, Any]) -> str:
    return f"{entry['column']}={entry['value']}"


def limitations(report: dict[str, Any], contract: Contract, drift: dict[str, Any] | None) -> list[str]:
    """Derive the card's limitations and risks from measured facts, most serious first."""
    primary, facts = report["primary_metric"], report["data"]
    model, baseline = report["model"][primary], report["baseline"][primary]
    notes = []
    if not report["beats_baseline"]:
        notes.append(
            f"**The model does not beat the dummy baseline** on {primary} ({_fmt(model)} vs {_fmt(baseline)}): do not use it."
        )
    flagged = [s for s in report["slices"] if s["flagged"]]
    for entry in flagged:
        kind = "sensitive group" if entry["sensitive"] else "slice"
        notes.append(
            f"Weaker on the {kind} **{_slice_name(entry)}**: {primary} {_fmt(entry['primary'])}, "
            f"{entry['worse_by']:.0%} worse than overall ({entry['rows']} held-out rows)."
        )
    if not contract.sensitive_columns:
        notes.append(
            "No `data.sensitive_columns` are declared, so performance across groups of people "
            "(or other protected attributes) was not measured."
        )
    cv = report["cv"]["model"][primary]
    if facts["n_train"] < SMALL_DATA_ROWS:
        notes.append(
            f"Small data: {facts['n_train']} training and {facts['n_test']} held-out rows; held-out "
            f"metrics are noisy (cross-validation std of {primary}: {_fmt(cv['std'])})."
        )
    perfect = 1.0 if report["greater_is_better"] else 0.0
    if model == perfect and facts["n_test"] < SMALL_DATA_ROWS:
        notes.append(
            f"A perfect held-out {primary} on {facts['n_test']} rows says more about a small, easy "
            "test set than about future data."
        )
    elif cv["std"] and abs(model - cv["mean"]) > 2 * cv["std"]:
        notes.append(
            f"Held-out {primary} ({_fmt(model)}) is more than two standard deviations from the "
            f"cross-validation mean ({_fmt(cv['mean'])}): the split may not be representative."
        )
    counts = facts["class_counts"] or {}
    if counts and max(counts.values()) / min(counts.values()) > IMBALANCE_RATIO:
        rare = min(counts, key=counts.get)
        notes.append(
            f"Class imbalance: '{rare}' is {counts[rare] / sum(counts.values()):.0%} of training rows; "
            "accuracy flatters the model — read balanced accuracy and the per-class curves."
        )
    small = [_slice_name(s) for s in report["slices"] if s["metrics"] is None]
    if small:
        notes.append(f"Too few held-out rows to judge (< {report['slice_min_rows']}): {', '.join(small)}.")
    if facts["out_of_range"]:
        listed = ", ".join(f"`{k}` ({v} rows)" for k, v in facts["out_of_range"].items())
        notes.append(f"Held-out values outside the training range in {listed}: the model extrapolates there.")
    if facts["unseen_categories"]:
        listed = ", ".join(f"`{k}` ({v} rows)" for k, v in facts["unseen_categories"].items())
        notes.append(f"Held-out labels unseen in training in {listed}: they are encoded as all zeros.")
    if facts["missing_share"]:
        listed = ", ".join(f"`{k}` ({v:.0%})" for k, v in facts["missing_share"].items())
        notes.append(f"Missing values are imputed (numbers: median; labels: 'missing') in {listed}.")
    unused = [name for name, value in report["permutation_importance"].items() if value["mean"] <= 0]
    if unused:
        notes.append(
            f"No measurable effect on held-out {primary} when shuffled alone (correlated columns can stand "
            f"in for each other): {', '.join(f'`{n}`' for n in unused)}."
        )
    notes.append(describe_drift(drift))
    notes.append(
        "Validated only on a random split of the same source: no later period or other population was tested."
    )
    return notes


def describe_drift(drift: dict[str, Any] | None) -> str:
    if drift is None:
        return "No drift report yet: serve the model, then `make monitor` compares live inputs with the training data."
    share = next(
        (drift[k] for k in ("share_of_drifted_columns", "drift_share", "drifted_share") if k in drift), None
    )
    detected = next((drift[k] for k in ("dataset_drift", "drift_detected", "drifted") if k in drift), None)
    shown = (
        f"{share:.0%} of columns drifted"
        if isinstance(share, int | float)
        else "see reports/monitoring/drift.html"
    )
    return f"Latest drift report: {'drift detected' if detected else 'no dataset drift'} ({shown})."


def render_card(
    project: Project,
    report: dict[str, Any],
    contract: Contract,
    metadata: dict[str, Any],
    manifest: dict[str, Any],
) -> str:
    """Return the model card as Markdown."""
    cfg, facts, primary = project.config, report["data"], report["primary_metric"]
    direction = "higher" if report["greater_is_better"] else "lower"
    what = (
        f"`{contract.target}` ({', '.join(contract.classes)})" if contract.classes else f"`{contract.target}`"
    )
    kinds = {kind: contract.features_of_kind(kind) for kind in ("numeric", "boolean", "categorical")}
    features = "; ".join(
        f"{kind}: {', '.join(f'`{n}`' for n in names)}" for kind, names in kinds.items() if names
    )
    sensitive = ", ".join(f"`{c}`" for c in contract.sensitive_columns) or "none declared"
    drift_path = project.reports_dir / "monitoring" / "drift.json"
    drift = json.loads(drift_path.read_text(encoding="utf-8")) if drift_path.is_file() else None
    git = f"`{manifest.get('git_sha') or 'not a git checkout'}`" + (
        " (uncommitted changes present)" if manifest.get("git_dirty") else ""
    )
    lines = [
        f"# Model card: {cfg.project_name}",
        "",
        "_Generated by `evaluate` from reports/metrics.json, the data contract and configs/config.yaml. "
        "Do not edit by hand: change the config and re-run._",
        "",
        "## Model details",
        "",
        "| | |",
        "| --- | --- |",
        f"| task | {contract.task} of {what} |",
        f"| model | {metadata['estimator']} (family `{cfg.model.family}`, params `{json.dumps(cfg.model.params)}`) |",
        f"| version | {metadata['version']} (trained {metadata['created']}) |",
        f"| registry | MLflow model `{cfg.project_slug}`; `make promote` sets the aliases `challenger` / `champion` |",
        f"| MLflow run | `{metadata.get('mlflow_run_id')}` |",
        f"| inputs | {len(contract.features)} features — {features} |",
        "",
        "## Intended use",
        "",
        cfg.model_card.intended_use,
        "",
        "## Out-of-scope use",
        "",
        cfg.model_card.out_of_scope_use,
        "",
        "## Training and evaluation data",
        "",
        f"- Source: `{facts['source']}`, prepared {facts['prepared']}",
        f"- Rows: {facts['n_train']} training, {facts['n_test']} held out (seed {cfg.split.seed})",
        f"- Data digest: `{metadata['data_digest']}`",
        f"- Sensitive columns (evaluation slices only, never model inputs): {sensitive}",
        "",
        "## Metrics",
        "",
        f"Primary metric: **{primary}** ({direction} is better). Cross-validation: {metadata['cv_folds']} folds "
        f"on the training rows; held-out: {report['n_test']} rows never seen in training.",
        "",
        "| metric | baseline CV | baseline held-out | model CV (mean ± std) | model held-out |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, value in report["model"].items():
        base_cv, model_cv = report["cv"]["baseline"][name], report["cv"]["model"][name]
        label = f"**{name}**" if name == primary else name
        lines.append(
            f"| {label} | {_fmt(base_cv['mean'])} | {_fmt(report['baseline'][name])} | "
            f"{_fmt(model_cv['mean'])} ± {_fmt(model_cv['std'])} | {_fmt(value)} |"
        )
    lines += ["", "## Slices", ""]
    if report["slices"]:
        lines += [
            f"{primary} per slice of the held-out rows; ⚠ = more than {report['slice_gap']:.0%} worse than overall "
            f"({_fmt(report['model'][primary])}).",
            "",
            "| column | value | rows | " + primary + " | worse than overall | flag |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        for s in report["slices"]:
            gap = "–" if s["worse_by"] is None else f"{s['worse_by']:+.0%}"
            column = f"{s['column']} (sensitive)" if s["sensitive"] else s["column"]
            lines.append(
                f"| {column} | {s['value']} | {s['rows']} | {_fmt(s['primary'])} | {gap} | {'⚠' if s['flagged'] else ''} |"
            )
    else:
        lines.append("No categorical, few-valued or sensitive column to slice by.")
    lines += [
        "",
        f"## What the model relies on (permutation importance, held-out {primary})",
        "",
        "| feature | drop when shuffled (mean ± std) |",
        "| --- | ---: |",
    ]
    lines += [
        f"| {n} | {_fmt(v['mean'])} ± {_fmt(v['std'])} |"
        for n, v in list(report["permutation_importance"].items())[:10]
    ]
    lines += [
        "",
        "Figures: "
        + ", ".join(f"[{p.stem}](figures/{p.name})" for p in sorted(project.figures_dir.glob("*.png"))),
        "",
        "## Limitations and risks",
        "",
    ]
    lines += [f"- {note}" for note in limitations(report, contract, drift)]
    lines += [
        "",
        "## How to reproduce",
        "",
        f"Code {git}; config digest `{manifest.get('config_digest')}`; lock file digest "
        f"`{manifest.get('lock_digest') or 'no uv.lock'}`; seed {cfg.split.seed}.",
        "",
        "```bash",
        f"git checkout {manifest.get('git_sha') or '<commit>'}",
        "make install",
        "make reproduce",
        "```",
        "",
    ]
    return "\n".join(lines)


def results_table(report: dict[str, Any], metadata: dict[str, Any]) -> str:
    """The short results table that the README shows between its markers."""
    primary = report["primary_metric"]
    flagged = sum(s["flagged"] for s in report["slices"])
    lines = [
        f"| metric (held-out, {report['n_test']} rows) | dummy baseline | model |",
        "| --- | ---: | ---: |",
    ]
    for name, value in report["model"].items():
        label = f"**{name}**" if name == primary else name
        lines.append(f"| {label} | {_fmt(report['baseline'][name])} | {_fmt(value)} |")
    lines += [
        "",
        f"Model {metadata['version']} ({metadata['estimator']}); {flagged} slice(s) flagged. "
        "Full model card: [reports/model_card.md](reports/model_card.md).",
    ]
    return "\n".join(lines)


def refresh_readme(readme: Path, table: str) -> bool:
    """Replace the text between the README's results markers; do nothing when they are absent."""
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), flags=re.DOTALL)
    if not pattern.search(text):
        return False
    updated = pattern.sub(lambda _: f"{README_START}\n{table}\n{README_END}", text, count=1)
    readme.write_text(updated, encoding="utf-8")
    return True
