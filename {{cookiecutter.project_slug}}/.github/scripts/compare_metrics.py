"""Print a markdown table of the held-out metrics of a branch next to those of its base branch.

    python .github/scripts/compare_metrics.py base/reports/metrics.json head/reports/metrics.json

The pull-request workflow (.github/workflows/pr-metrics.yml) posts the table as a comment. A
missing base file (a base branch whose pipeline failed, or that has none yet) shows as "—".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from {{ cookiecutter.module_name }}.metrics import metric_directions

# The first line of the comment: the workflow finds its earlier comment by it and updates that one.
MARKER = "<!-- pr-metrics -->"


def read_report(path: Path) -> dict | None:
    """Return the content of a reports/metrics.json, or None when the file does not exist."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: {path} is not valid JSON ({exc.msg}) — re-run `make evaluate`.") from None


def cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def change(metric: str, task: str, base: float | None, head: float | None) -> str:
    """The difference head - base, and whether it is better for this metric."""
    if base is None or head is None:
        return "—"
    if head == base:
        return "0"
    greater_is_better = metric_directions(task).get(metric, True)
    verdict = "better" if (head > base) == greater_is_better else "worse"
    return f"{head - base:+.4f} {verdict}"


def comparison_table(base: dict | None, head: dict, base_name: str = "base") -> str:
    """Markdown: one row per held-out metric of the model, the primary metric first and in bold."""
    task, primary = head["task"], head["primary_metric"]
    base_scores = base["model"] if base and base.get("task") == task else {}
    names = [primary] + [name for name in head["model"] if name != primary]
    lines = [
        MARKER,
        f"### Held-out metrics: this branch vs `{base_name}`",
        "",
        f"| metric | `{base_name}` | this branch | change |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in names:
        label = f"**{name}** (primary)" if name == primary else name
        old, new = base_scores.get(name), head["model"].get(name)
        lines.append(f"| {label} | {cell(old)} | {cell(new)} | {change(name, task, old, new)} |")
    lines.append("")
    if base is None:
        lines.append(f"`{base_name}` has no reports/metrics.json: its pipeline failed or does not exist yet.")
    elif base.get("task") != task:
        lines.append(f"`{base_name}` solves another task ({base.get('task')}), so its numbers are not shown.")
    lines.append(
        f"Test rows: {(base or {}).get('n_test', '—')} → {head['n_test']}. "
        f"Beats the dummy baseline: {'yes' if head['beats_baseline'] else '**no**'}."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="reports/metrics.json of the base branch")
    parser.add_argument("head", type=Path, help="reports/metrics.json of this branch")
    parser.add_argument("--base-name", default="base", help="the base branch's name, for the header")
    args = parser.parse_args(argv)
    head = read_report(args.head)
    if head is None:
        raise SystemExit(f"error: {args.head} does not exist — run `make pipeline` on this branch first.")
    print(comparison_table(read_report(args.base), head, args.base_name), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
