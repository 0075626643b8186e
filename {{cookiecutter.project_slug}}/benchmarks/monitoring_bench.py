"""What does monitoring cost? The API's single-row throughput with the prediction log on vs off,
and `monitor` over 100k logged predictions.

Starts two copies of the API on the same model — one logging every prediction to a SQLite file,
one with `monitoring.log_predictions: false` — and drives them in turns with the serving
benchmark's load (N keep-alive connections sending single held-out rows; wrk when installed), so
that both see the same machine. CPU per request counts the server's whole process tree, so the
log's writer process is included. Then checks that the log holds one row per prediction served, writes 100k
predictions to a fresh log, labels each of them (as POST /feedback would) and times `{{ cookiecutter.module_name }} monitor --rows 100000` end to end.

    make pipeline && python benchmarks/monitoring_bench.py

Targets (issue: monitoring): logging costs <= 5% of single-row req/s; monitor over 100k rows <= 60 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_bench import (  # noqa: E402
    cpu_seconds,
    drive,
    free_port,
    held_out_records,
    load_client,
    load_options,
    server_env,
    start,
    stop,
)


def write_config(project: Any, folder: Path, **monitoring: Any) -> Path:
    """The project's config with absolute paths (reports in folder) and these monitoring settings."""
    config = yaml.safe_load(project.config_path.read_text(encoding="utf-8"))
    config["paths"] = {
        "data_dir": str(project.processed_dir.parent),
        "models_dir": str(project.models_dir),
        "reports_dir": str(folder / "reports"),
    }
    config["monitoring"] = {**config.get("monitoring", {}), **monitoring}
    path = folder / "configs" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def fill_log(project: Any, rows: int) -> float:
    """Log `rows` scored held-out rows through the prediction log; return rows written per second."""
    from {{ cookiecutter.module_name }}.model_files import read_metadata
    from {{ cookiecutter.module_name }}.monitoring.simulate import sample_records
    from {{ cookiecutter.module_name }}.serving.prediction_log import PredictionLog
    from {{ cookiecutter.module_name }}.serving.runtime import load_contract, load_predictor

    contract = load_contract(read_metadata(project.models_dir))
    records = sample_records(project, contract, rows, drift=False, seed=0)
    answers = [
        {"prediction": value} for value in load_predictor(project.models_dir).predict(records).predictions
    ]
    log = PredictionLog.for_project(project, "bench", "onnx")
    started = time.perf_counter()
    log.start()
    for start_row in range(0, rows, 1000):  # as 1000-row batch requests
        log.add(
            records[start_row : start_row + 1000], answers[start_row : start_row + 1000], time.perf_counter()
        )
    log.close(timeout=600)
    return rows / (time.perf_counter() - started)


def label_log(project: Any) -> None:
    """Give every logged prediction a label (its own answer), in the table POST /feedback writes."""
    import sqlalchemy as sa

    from {{ cookiecutter.module_name }}.serving.feedback import feedback
    from {{ cookiecutter.module_name }}.serving.prediction_table import PredictionTable, predictions

    engine = PredictionTable(project.prediction_log_url).connect()
    feedback.create(engine, checkfirst=True)
    logged = sa.select(predictions.c.created_at, predictions.c.request_id, predictions.c.row_index,
                       predictions.c.prediction)  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            sa.insert(feedback).from_select(["created_at", "request_id", "row_index", "actual"], logged)
        )
    engine.dispose()


def main() -> int:
    from {{ cookiecutter.module_name }}.project import load_project

    parser = load_options(__doc__.splitlines()[0], rounds=5)
    parser.add_argument(
        "--monitor-rows", type=int, default=100_000, help="logged rows for the monitor timing"
    )
    args = parser.parse_args()
    client = load_client(args.client)

    project = load_project(args.config)
    records, _, _ = held_out_records(project)
    bodies = [json.dumps(record).encode() for record in records]
    env = server_env()
    env.pop("PREDICTION_LOG_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        servers: dict[str, tuple[Any, int]] = {}
        for name, settings in (("log on", {"url": f"sqlite:///{folder / 'on' / 'log.db'}"}),
                               ("log off", {"log_predictions": False})):  # fmt: skip
            config = write_config(project, folder / name.replace(" ", "_"), **settings)
            port = free_port()
            command = [
                sys.executable,
                "-m",
                "{{ cookiecutter.module_name }}",
                "serve",
                "--port",
                str(port),
                "--config",
                str(config),
            ]
            servers[name] = (start(command, f"http://127.0.0.1:{port}/ready", env)[0], port)
        rates: dict[str, list[float]] = {name: [] for name in servers}
        cpu_us: dict[str, list[float]] = {name: [] for name in servers}  # server CPU per request
        served_metric = 'http_requests_total{path="/predict",status="200"}'
        try:
            for _ in range(args.rounds):
                for name, (process, port) in servers.items():
                    cpu, count = cpu_seconds(process.pid) or 0.0, metric(port, served_metric)
                    load = drive(port, "/predict", bodies, args.connections, args.seconds, client)
                    rates[name].append(load.rps)
                    requests = metric(port, served_metric) - count
                    cpu_us[name].append(((cpu_seconds(process.pid) or 0.0) - cpu) / max(requests, 1) * 1e6)
            on_port = servers["log on"][1]
            deadline = time.monotonic() + 30
            while metric(on_port, "prediction_log_waiting") and time.monotonic() < deadline:
                time.sleep(0.1)
            served = metric(on_port, served_metric)
            logged = metric(on_port, "prediction_log_written_total")
        finally:
            for process, _ in servers.values():
                stop(process)

        on, off = (statistics.median(rates[name]) for name in ("log on", "log off"))
        print(
            f"\n{args.connections} connections, single-row POST /predict from {client}, {args.rounds} rounds of {args.seconds:g} s each"
        )
        print(f"{'server':<10}{'median req/s':>14}{'CPU µs/request':>16}   req/s by round")
        for name, values in rates.items():
            rounds = ", ".join(f"{v:.0f}" for v in values)
            print(
                f"{name:<10}{statistics.median(values):>14.0f}{statistics.median(cpu_us[name]):>16.0f}   {rounds}"
            )
        cpu_on, cpu_off = (statistics.median(cpu_us[name]) for name in ("log on", "log off"))
        print(f"logging cost: {(off - on) / off * 100:5.1f} % of req/s (target <= 5 %)")
        # On a busy machine req/s is noisy; server CPU per request is not, and bounds the cost.
        print(f"logging cost: {(cpu_on - cpu_off) / cpu_on * 100:5.1f} % of server CPU per request")
        print(f"log rows == predictions served: {logged:.0f} == {served:.0f}: {logged == served}")

        big = load_project(
            write_config(project, folder / "big", url=f"sqlite:///{folder / 'big' / 'log.db'}")
        )
        write_rate = fill_log(big, args.monitor_rows)
        label_log(big)  # so that monitor also scores live quality over every row
        started = time.perf_counter()
        command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "monitor", "--config", str(big.config_path),
                   "--rows", str(args.monitor_rows)]  # fmt: skip
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        print(f"log writer: {write_rate:,.0f} rows/s into SQLite")
        print(
            f"monitor over {args.monitor_rows:,} rows, all labelled: {seconds:.1f} s, exit {result.returncode} (target <= 60 s)"
        )
        if result.returncode not in (0, 1):
            print(result.stderr[-2000:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
