"""The command line: one entry point for every stage (`{{ cookiecutter.module_name }} --help`)."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .config import Project, load_project
from .errors import UserError

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .training.tracking_worker import Tracker

DEFAULT_GC_THRESHOLDS = gc.get_threshold()
MAX_FLAGGED_SHOWN = 10  # flagged slices printed by evaluate (all are in the model card)
# Set by run(): from the command line, `pipeline` logs to MLflow from a second process (see
# tracking_worker.py); called in-process (tests, notebooks), it logs inline.
BACKGROUND_TRACKING = False

app = typer.Typer(
    help="{{ cookiecutter.project_name | replace('\\', '\\\\') | replace('"', '\\"') }}: data → train → evaluate, tracked in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Path to config.yaml (default: configs/config.yaml found from here)."
    ),
]


@contextmanager
def step(title: str) -> Iterator[None]:
    """Show a spinner while a stage runs and its duration when it ends."""
    started = time.perf_counter()
    with console.status(f"{title}…"):
        yield
    console.print(f"[green]✓[/green] {title} ({time.perf_counter() - started:.1f} s)")


@app.command()
def data(config: ConfigOption = None) -> None:
    """Load, clean, validate and split the data into data/processed/."""
    run_data(load_project(config))


@app.command()
def train(config: ConfigOption = None) -> None:
    """Fit the dummy baseline and the model, cross-validate, log to MLflow, export models/."""
    run_train(load_project(config))


@app.command()
def evaluate(config: ConfigOption = None) -> None:
    """Score baseline and model on held-out data; write reports/metrics.json and figures."""
    run_evaluate(load_project(config))


@app.command()
def pipeline(config: ConfigOption = None) -> None:
    """Run data → train → evaluate → promote (MLflow logging overlaps the work, in a second process)."""
    from .training import tracking
    from .training.tracking_worker import Tracker

    project = load_project(config)
    with Tracker(background=BACKGROUND_TRACKING) as tracker:
        # The worker imports MLflow, opens the store and creates the run while the data stage runs.
        run = tracker.submit(tracking.start_run, project)
        if tracker.background:
            tracker.submit(tracking.warm_up)
        try:
            run_data(project)
            run_train(project, tracker, run)
            report = run_evaluate(project, tracker)
            held_out = {"model": report["model"], "baseline": report["baseline"]}
            run_promote(project, tracker, held_out)
        except Exception:
            # Mark the run FAILED (unless creating it is what failed): the stage's error is reported.
            tracker.settle()
            with suppress(Exception):
                tracker.call(tracking.end_run, project, tracker.result(run), "FAILED")
            raise


def run_data(project: Project) -> None:
    from .data.prepare import prepare_data

    with step("data"):
        summary = prepare_data(project)
    console.print(
        f"  {summary.rows_raw} rows → {summary.rows_train} train / {summary.rows_test} test, "
        f"{summary.features} features, {summary.duplicates} duplicates dropped, "
        f"{summary.rows_quarantined} rows quarantined"
    )
    if summary.rows_quarantined:
        console.print(f"  quarantined rows and reasons: {project.quarantine_dir / 'quarantine.csv'}")
    if summary.duplicates > 0.1 * summary.rows_raw:
        console.print(
            f"  [yellow]note[/yellow]: {summary.duplicates} exact duplicate rows "
            f"({100 * summary.duplicates / summary.rows_raw:.0f} percent of the data) were kept once each, so that no "
            "row sits in both the training and the test split; coarse columns often repeat like this"
        )
    for column, reason in summary.ignored.items():
        console.print(f"  [yellow]note[/yellow]: column '{column}' {reason}")


def run_train(project: Project, tracker: Tracker | None = None, run: Future[str] | None = None) -> None:
    from .training.train import train_model

    with step(f"train ({project.config.model.family})"):
        result, metadata = train_model(project, tracker, run)
    table = Table(title=f"Cross-validation, {result.folds} folds (mean ± std)")
    table.add_column("metric")
    table.add_column("baseline", justify="right")
    table.add_column("model", justify="right")
    for metric, stats in result.cv["model"].items():
        base = result.cv["baseline"][metric]
        table.add_row(
            metric, f"{base['mean']:.4f} ± {base['std']:.4f}", f"{stats['mean']:.4f} ± {stats['std']:.4f}"
        )
    console.print(table)
    if result.folds < project.config.cv.folds:
        limit = "the rarest class has" if project.config.data.task == "classification" else "there are"
        console.print(
            f"  [yellow]note[/yellow]: {result.folds} cross-validation folds, not cv.folds = "
            f"{project.config.cv.folds}: {limit} too few training rows for more"
        )
    console.print(
        f"  model {metadata['version']} → {project.candidate_dir}, MLflow run {metadata['mlflow_run_id']}"
    )


def run_evaluate(project: Project, tracker: Tracker | None = None) -> dict[str, Any]:
    from .evaluation.evaluate import evaluate_model
    from .metrics import baseline_metrics, baseline_shortfalls

    with step("evaluate"):
        report = evaluate_model(project, tracker)
    table = Table(title=f"Held-out metrics ({report['n_test']} rows)")
    table.add_column("metric")
    table.add_column("baseline", justify="right")
    table.add_column("model", justify="right")
    for metric, value in report["model"].items():
        marker = " ←" if metric == report["primary_metric"] else ""
        table.add_row(metric + marker, f"{report['baseline'][metric]:.4f}", f"{value:.4f}")
    console.print(table)
    primary = report["primary_metric"]
    missed = baseline_shortfalls(report["task"], primary, report["model"], report["baseline"])
    if report["beats_baseline"]:
        verdict = f"beats the dummy baseline on {', '.join(baseline_metrics(report['task'], primary))}"
    else:
        verdict = f"[red]does not beat the dummy baseline[/red] on {missed or primary}"
    console.print(f"  the model {verdict}; reports in {project.reports_dir}", highlight=False)
    flagged = [s for s in report["slices"] if s["flagged"]]
    for entry in flagged[:MAX_FLAGGED_SHOWN]:
        console.print(
            f"  [yellow]slice flagged[/yellow]: {entry['column']}={entry['value']} {primary} "
            f"{entry['primary']:.4f}, {entry['worse_by'] * 100:.0f}% worse than overall ({entry['rows']} rows)"
        )
    if len(flagged) > MAX_FLAGGED_SHOWN:
        console.print(f"  … and {len(flagged) - MAX_FLAGGED_SHOWN} more flagged slices in the model card")
    console.print(f"  model card: {project.reports_dir / 'model_card.md'}")
    if not project.config.model_card.describes(project.config.data.source):
        console.print(
            f"  [yellow]note[/yellow]: model_card in {project.config_path.name} was written for data.source "
            f"{project.config.model_card.written_for} — describe this data there, and set "
            f"model_card.written_for: {project.config.data.source}"
        )
    return report


@app.command()
def promote(config: ConfigOption = None) -> None:
    """Register the candidate as `challenger`; make it `champion` (and copy it to models/) if it wins."""
    run_promote(load_project(config))


@app.command()
def tune(
    config: ConfigOption = None,
    trials: Annotated[
        int | None, typer.Option(help="Number of trials (default: tuning.trials).", min=1)
    ] = None,
) -> None:
    """Search model.family's hyperparameters with Optuna (cross-validation on the training rows)."""
    import yaml

    from .training.tune import tune_model

    project = load_project(config)
    with step(f"tune ({project.config.model.family})"):
        result = tune_model(project, trials)
    console.print(
        f"  best cross-validated {result.metric}: {result.best_value:.4f} after {result.trials} trials"
    )
    console.print(f"  all trials: {result.report}, MLflow run {result.run_id} (one nested run per trial)")
    adopt = yaml.safe_dump({"model": {"family": project.config.model.family, "params": result.best_params}})
    console.print(
        f"  to adopt, set in {project.config_path.name} and run `make pipeline`:\n{adopt}", highlight=False
    )


@app.command()
def reproduce(
    config: ConfigOption = None,
    manifest: Annotated[
        Path | None,
        typer.Option(help="manifest.json to reproduce (default: the champion's, models/manifest.json)."),
    ] = None,
) -> None:
    """Re-run the recorded run in a temporary folder; fail unless metrics and predictions are identical."""
    from .training.manifest import reproduce as reproduce_run

    project = load_project(config)
    with step("reproduce"):
        checks, notes = reproduce_run(project, manifest)
    for check in checks:
        console.print(f"  [green]✓[/green] {check}")
    for note in notes:
        console.print(f"  note: {note}", soft_wrap=True)


def run_promote(
    project: Project, tracker: Tracker | None = None, held_out: dict[str, dict[str, float]] | None = None
) -> None:
    from .evaluation.promotion import promote_model

    with step("promote"):
        decision = promote_model(project, tracker, held_out)
    console.print(f"  registered {decision.name} v{decision.version} as challenger")
    for comparison in decision.comparisons:
        console.print(
            f"  {comparison.describe(decision.metric, decision.greater)}", highlight=False, soft_wrap=True
        )
    for note in decision.notes:
        console.print(f"  note: {note}", soft_wrap=True)
    if decision.promoted:
        console.print(f"  [green]v{decision.version} is the champion[/green]; models/ serves it")
    else:
        served = "the champion in models/ is unchanged" if decision.champion else "nothing is served yet"
        console.print(f"  v{decision.version} stays challenger; {served}")


@app.command()
def serve(
    config: ConfigOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serving.port in config.yaml).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: serving.workers).")] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface (default 127.0.0.1: this machine only).")
    ] = None,
) -> None:
    """Serve the exported model over HTTP (FastAPI + uvicorn); the API docs are at /docs."""
    from .serving.server import run_server

    gc.set_threshold(*DEFAULT_GC_THRESHOLDS)  # a long-running server collects as usual
    run_server(load_project(config), host=host, port=port, workers=workers)


@app.command()
def predict(
    input_path: Annotated[Path, typer.Argument(help="CSV or Parquet file with the feature columns.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Output .csv/.parquet (default: <input>_predictions)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Score a CSV or Parquet file with the exported model; write it with prediction columns."""
    from rich.progress import track

    from .serving.predict_file import predict_file

    project = load_project(config)
    written, unscored = predict_file(
        project, input_path, output, lambda chunks: track(chunks, console=console)
    )
    console.print(f"  predictions → {written}")
    if unscored:
        console.print(
            f"  [yellow]{unscored} rows not scored[/yellow]: a value the model cannot read — "
            f"their `error` column in {written.name} says which"
        )


@app.command()
def monitor(
    config: ConfigOption = None,
    rows: Annotated[
        int | None,
        typer.Option(help="The last N logged predictions (default: monitoring.window_rows).", min=1),
    ] = None,
    hours: Annotated[
        float | None, typer.Option(help="The predictions of the last H hours instead.", min=0.01)
    ] = None,
) -> None:
    """Compare logged predictions with the training data; exit 1 on drift, 2 with too few rows."""
    from .monitoring.drift import NotEnoughRows, monitor_predictions

    project = load_project(config)
    try:
        with step("monitor"):
            result = monitor_predictions(project, rows, hours)
    except NotEnoughRows as exc:
        console.print(f"[yellow]too few rows:[/yellow] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for line in result.describe():
        console.print(line, highlight=False, soft_wrap=True)
    if result.drifted:
        raise typer.Exit(1)


@app.command()
def simulate(
    config: ConfigOption = None,
    port: Annotated[int | None, typer.Option(help="The API's port (default: serving.port).")] = None,
    url: Annotated[str | None, typer.Option(help="The API's base URL (overrides --port).")] = None,
    rows: Annotated[
        int | None, typer.Option(help="Requests to send (default: monitoring.window_rows).", min=1)
    ] = None,
    drift: Annotated[bool, typer.Option("--drift", help="Send deliberately shifted rows.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the sample (and of the shift).")] = 0,
) -> None:
    """Send held-out rows (or, with --drift, shifted ones) to a running API, one request each."""
    from . import model_files
    from .serving.runtime import load_contract
    from .monitoring.simulate import sample_records, send_records

    project = load_project(config)
    serving = project.config.serving
    base = url or f"http://{serving.host}:{port or serving.port}"
    contract = load_contract(model_files.read_metadata(project.models_dir))
    records = sample_records(
        project, contract, rows or project.config.monitoring.window_rows, drift=drift, seed=seed
    )
    with step(f"simulate ({'drifted' if drift else 'held-out'} traffic → {base})"):
        statuses = send_records(base, records)
    answered = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
    console.print(f"  {len(records)} requests: {answered}; the API logs them within monitoring.flush_seconds")
    if set(statuses) != {200}:
        raise UserError(f"some requests failed ({answered}) — see the API's log.")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; print a user mistake as one line and return 1 instead of a traceback."""
    try:
        code = app(args=argv, prog_name="{{ cookiecutter.module_name }}", standalone_mode=False)
    except UserError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 1
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage mistakes: unknown option, missing value
        exc.show()
        return getattr(exc, "exit_code", 2)
    return code if isinstance(code, int) else 0  # a command's typer.Exit(code), e.g. monitor's 1 or 2


def run() -> None:
    """Console-script entry point (also `python -m`)."""
    # Importing pandas, scikit-learn and MLflow creates about a million long-lived objects, and with
    # the default thresholds the collector rescans them over and over: ~1 s of CPU in `pipeline`.
    # One-shot commands collect rarely; `serve` restores the defaults.
    gc.set_threshold(50_000, 50, 50)
    global BACKGROUND_TRACKING
    BACKGROUND_TRACKING = True
    code = main()
    # The final garbage collection walks the million objects pandas, scikit-learn and MLflow
    # created and frees nothing the OS would not: about 2 s of every command. Skip it.
    gc.freeze()
    sys.exit(code)
