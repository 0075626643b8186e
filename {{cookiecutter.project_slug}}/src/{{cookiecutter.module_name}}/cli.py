"""The command line: one entry point for every stage (`{{ cookiecutter.module_name }} --help`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import track
from rich.table import Column, Table

from .errors import UserError
from .project import load_project

app = typer.Typer(
    help="{{ cookiecutter.project_name | replace('\\', '\\\\') | replace('"', '\\"') }}: data → train → evaluate → promote → serve → monitor, tracked in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Default: configs/config.yaml.")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Default: <input>_predictions.")]


@contextmanager
def step(title: str) -> Iterator[None]:
    """Show a spinner while a stage runs and its duration when it ends."""
    started = time.perf_counter()
    with console.status(f"{title}…"):
        yield
    console.print(f"[green]✓[/green] {title} ({time.perf_counter() - started:.1f} s)")


def print_lines(lines: list[str]) -> None:
    for line in lines:
        console.print(f"  {line}", highlight=False, soft_wrap=True)


def print_comparison(title: str, scores: dict[str, dict[str, Any]], marked: str = "") -> None:
    """Print metric | baseline | model; a score is a value, or a mean and std from cross-validation."""

    def cell(value: Any) -> str:
        return f"{value['mean']:.4f} ± {value['std']:.4f}" if isinstance(value, dict) else f"{value:.4f}"

    table = Table("metric", *[Column(name, justify="right") for name in ("baseline", "model")], title=title)
    for metric, value in scores["model"].items():
        name = metric + (" ←" if metric == marked else "")
        table.add_row(name, cell(scores["baseline"][metric]), cell(value))
    console.print(table)


@app.command()
def data(config: ConfigOption = None) -> None:
    """Load, clean, validate and split the data into data/processed/."""
    from .data.prepare import prepare_data

    with step("data"):
        summary = prepare_data(load_project(config))
    print_lines(summary.describe())


@app.command("sample-db")
def sample_db(config: ConfigOption = None) -> None:
    """Write the bundled datasets into data/sample.db (SQLite) to try `data.source: sql` offline."""
    from .data.load import write_sample_db

    print_lines(write_sample_db(load_project(config)))


@app.command()
def profile(config: ConfigOption = None) -> None:
    """Report the raw data's quality before cleaning: reports/profile/profile.{html,json} (Evidently)."""
    from .data.profile import profile_raw

    with step("profile (Evidently)"):
        print_lines(profile_raw(load_project(config)))


@app.command()
def train(config: ConfigOption = None) -> None:
    """Fit the dummy baseline and the model, cross-validate, log to MLflow, export models/candidate/."""
    from .training.train import describe_training, train_model

    project = load_project(config)
    with step(f"train ({project.config.model.family})"):
        result, metadata = train_model(project)
    print_comparison(f"Cross-validation, {result.folds} folds (mean ± std)", result.cv)
    print_lines(describe_training(project, result, metadata))


@app.command()
def evaluate(config: ConfigOption = None) -> None:
    """Score baseline and model on held-out data; write reports/metrics.json, figures and the model card."""
    from .evaluation.evaluate import describe_report, evaluate_model

    project = load_project(config)
    with step("evaluate"):
        report = evaluate_model(project)
    print_comparison(f"Held-out metrics ({report['n_test']} rows)", report, marked=report["primary_metric"])
    print_lines(describe_report(project, report))


@app.command()
def promote(config: ConfigOption = None) -> None:
    """Register the candidate as `challenger`; make it `champion` (and copy it to models/) if it wins."""
    from .evaluation.promotion import promote_model

    with step("promote"):
        decision = promote_model(load_project(config))
    print_lines(decision.describe())


@app.command()
def pipeline(config: ConfigOption = None) -> None:
    """Run data → train → evaluate → promote, one stage after the other."""
    for stage in (data, train, evaluate, promote):
        stage(config)


@app.command()
def tune(
    config: ConfigOption = None,
    trials: Annotated[int | None, typer.Option(help="Trials (default: tuning.trials).", min=1)] = None,
) -> None:
    """Search model.family's hyperparameters with Optuna (cross-validation on the training rows)."""
    from .training.tune import tune_model

    project = load_project(config)
    with step(f"tune ({project.config.model.family})"):
        lines = tune_model(project, trials)
    print_lines(lines)


@app.command()
def reproduce(
    config: ConfigOption = None,
    manifest: Annotated[Path | None, typer.Option(help="Default: models/manifest.json.")] = None,
) -> None:
    """Re-run the recorded run in a temporary folder; fail unless metrics and predictions are identical."""
    from .evaluation.reproduce import reproduce as reproduce_run

    with step("reproduce"):
        checks, notes = reproduce_run(load_project(config), manifest)
    print_lines([f"[green]✓[/green] {check}" for check in checks] + [f"note: {text}" for text in notes])


@app.command()
def serve(
    config: ConfigOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serving.port in config.yaml).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: serving.workers).")] = None,
    host: Annotated[str | None, typer.Option(help="Default 127.0.0.1: this machine only.")] = None,
) -> None:
    """Serve the exported model over HTTP (FastAPI + uvicorn); the API docs are at /docs."""
    from .serving.server import run_server

    run_server(load_project(config), host=host, port=port, workers=workers)


@app.command()
def predict(
    input_path: Annotated[Path, typer.Argument(help="CSV or Parquet file with the feature columns.")],
    output: OutputOption = None,
    config: ConfigOption = None,
) -> None:
    """Score a CSV or Parquet file with the exported model; write it with prediction columns."""
    from .serving.predict_file import predict_file

    project = load_project(config)
    written, unscored = predict_file(project, input_path, output, partial(track, console=console))
    lines = [f"predictions → {written}"]
    if unscored:
        lines.append(f"[yellow]{unscored} rows not scored[/yellow]: their `error` column in {written.name}")
    print_lines(lines)


@app.command()
def monitor(
    config: ConfigOption = None,
    rows: Annotated[int | None, typer.Option(help="Last N predictions (default: window_rows)", min=1)] = None,
    hours: Annotated[float | None, typer.Option(help="The last H hours instead.", min=0.01)] = None,
) -> None:
    """Judge input drift, prediction drift and live quality; exit 0, 1/3/4 on a failed check, 2 with too few rows."""
    from .monitoring.monitor import check_predictions

    with step("monitor"):
        lines, code = check_predictions(load_project(config), rows, hours)
    print_lines(lines)
    raise typer.Exit(code)


@app.command()
def simulate(
    config: ConfigOption = None,
    port: Annotated[int | None, typer.Option(help="The API's port (default: serving.port).")] = None,
    url: Annotated[str | None, typer.Option(help="The API's base URL (overrides --port).")] = None,
    rows: Annotated[int | None, typer.Option(help="Requests (default: window_rows).", min=1)] = None,
    drift: Annotated[bool, typer.Option("--drift", help="Send deliberately shifted rows.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the sample (and of the shift).")] = 0,
    labels: Annotated[str, typer.Option(help="Then send labels to /feedback: none, true or wrong.")] = "none",
) -> None:
    """Send held-out rows (or, with --drift, shifted ones) to a running API, one request each."""
    from .monitoring.simulate import simulate_traffic

    with step(f"simulate ({'drifted' if drift else 'held-out'} traffic)"):
        lines = simulate_traffic(load_project(config), url or port, rows, drift, seed, labels)
    print_lines(lines)


@app.command()
def feedback(
    input_path: Annotated[Path, typer.Argument(help="CSV with request_id, actual and optionally row_index.")],
    config: ConfigOption = None,
) -> None:
    """Store true targets for logged predictions; rows that are invalid or unknown go to a _refused.csv."""
    from .monitoring.labels import store_label_file

    print_lines(store_label_file(load_project(config), input_path))


@app.command()
def retrain(config: ConfigOption = None, force: Annotated[bool, typer.Option("--force")] = False) -> None:
    """When monitor fails (or always, with --force): add the labelled predictions to the data, run the pipeline."""
    from .monitoring.retrain import retrain_model

    print_lines(retrain_model(load_project(config), print_lines, force=force))


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
