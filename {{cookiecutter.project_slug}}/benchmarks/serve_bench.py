"""How fast is the prediction API, next to `mlflow models serve`, and what does the prediction log cost?

Starts, on the same exported model: this project's API (`{{ cookiecutter.module_name }} serve`), the same
API with `monitoring.log_predictions: false`, `mlflow models serve` on the same MLflow run's model,
and a FastAPI endpoint that parses the JSON and returns a constant (the ceiling for any Python API
here). All stay up and take turns (--rounds), so a background load hits them alike; each is driven
by N keep-alive connections sending single held-out rows (wrk when installed, else asyncio from
this process), and req/s is the median over the rounds. Also: seconds from process start until
/ready answers, and the round trip of a 1000-row batch.

    make pipeline && python benchmarks/serve_bench.py

Floors (issue 11): this API >= 25x mlflow models serve; the log costs <= 10% of single-row req/s;
/ready <= 1.5 s (issue 13: with --feedback, POST /feedback at a tenth of the prediction rate costs
<= 5% of it). Needs the train extras (MLflow) besides serve; runs offline on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

NOOP_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.post("/predict")
async def predict(record: dict) -> dict:
    return {"prediction": None}
"""


@dataclass
class Load:
    requests: int  # measured (after the warm-up)
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    sent: int = 0  # all requests, warm-up included
    cpu_seconds: float | None = None  # the server's CPU time (its process tree) during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def percentile_ms(latencies: list[float], share: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")


def load_client(choice: str) -> str:
    """The load generator: "wrk" when asked for or (auto) installed, else "python"."""
    if choice == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk: wrk is not on PATH (apt-get install wrk, or use --client python)")
    return "wrk" if choice == "wrk" or (choice == "auto" and shutil.which("wrk")) else "python"


def drive(port: int, path: str, bodies: list[bytes], connections: int, seconds: float, client: str) -> Load:
    """Keep `connections` keep-alive connections busy for `seconds` (after a 1 s warm-up)."""
    if client == "wrk":
        return drive_wrk(port, path, bodies, connections, seconds)
    return asyncio.run(drive_python(port, path, bodies, connections, seconds))


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
    }
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
        return status, body, headers
    return status, await reader.readexactly(int(headers.get("content-length", 0))), headers


def request_bytes(path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def drive_python(port: int, path: str, bodies: list[bytes], connections: int, seconds: float) -> Load:
    """The load from this process: asyncio connections, each sending its next request on the answer."""
    loop = asyncio.get_running_loop()
    warm_until = loop.time() + 1.0
    stop_at = warm_until + seconds
    latencies: list[float] = []
    errors, sent = 0, [0]

    async def connection(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        index = offset
        while (started := loop.time()) < stop_at:
            writer.write(request_bytes(path, bodies[index % len(bodies)]))
            index += connections
            sent[0] += 1
            status, _, _ = await read_response(reader)
            if started >= warm_until:
                latencies.append(loop.time() - started)
                errors += status != 200
        writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    p50, p99 = percentile_ms(latencies, 0.5), percentile_ms(latencies, 0.99)
    return Load(len(latencies), errors, seconds, p50, p99, sent[0])


WRK_SCRIPT = """
local bodies = { %s }
local requests = {}
for i, body in ipairs(bodies) do
  requests[i] = wrk.format("POST", "%s", {["Content-Type"] = "application/json"}, body)
end
local index = 0
request = function()
  index = index %% #requests + 1
  return requests[index]
end
"""


def drive_wrk(port: int, path: str, bodies: list[bytes], connections: int, seconds: float) -> Load:
    """The load from wrk (one thread), cycling through the same bodies; a 1 s run first to warm up."""

    def lua_string(body: bytes) -> str:  # every byte but plain ASCII as a decimal escape
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b}" for b in body) + '"'

    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder, "bodies.lua")
        script.write_text(WRK_SCRIPT % (",".join(lua_string(body) for body in bodies), path))
        url = f"http://127.0.0.1:{port}{path}"
        command = ["wrk", "-t1", f"-c{connections}", "--latency", "-s", str(script), url]
        warm_up = subprocess.run([*command, "-d1s"], capture_output=True, text=True, check=True).stdout
        output = subprocess.run(
            [*command, f"-d{seconds:g}s"], capture_output=True, text=True, check=True
        ).stdout
    counts = [_wrk_figure(report, r"(\d+) requests in ([\d.]+)(\w+)") for report in (warm_up, output)]
    requests, measured = (
        int(counts[1][0]),
        float(counts[1][1]) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[counts[1][2]],
    )
    non_2xx = _wrk_figure(output, r"Non-2xx or 3xx responses: (\d+)", default="0")[0]
    socket_errors = _wrk_figure(
        output, r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
    )
    errors = int(non_2xx) + sum(int(count) for count in socket_errors if count)
    p50, p99 = (_wrk_ms(_wrk_figure(output, rf"\s{share}%\s+([\d.]+)(\w+)")) for share in (50, 99))
    return Load(requests, errors, measured, p50, p99, requests + int(counts[0][0]))


def _wrk_figure(output: str, pattern: str, default: str | None = None) -> tuple[str, ...]:
    match = re.search(pattern, output)
    if match is None:
        if default is None:
            return ("",) * re.compile(pattern).groups
        return (default,)
    return match.groups()


def _wrk_ms(figure: tuple[str, ...]) -> float:
    value, unit = figure
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[unit]


def cpu_seconds(pid: int) -> float | None:
    """CPU time of a process and its descendants (Linux /proc; None elsewhere).

    Unlike req/s, CPU per request does not depend on what else runs on the machine.
    """
    proc = Path("/proc")
    if not (proc / str(pid)).exists():
        return None
    stats: dict[int, tuple[int, float]] = {}  # pid → (parent pid, cpu seconds)
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (
                int(fields[1]),
                (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
            )
    tree, total = {pid}, 0.0
    for _ in range(5):  # the server and up to four generations of children
        tree |= {child for child, (parent, _) in stats.items() if parent in tree}
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], ready_url: str, env: dict[str, str], timeout: float = 120) -> tuple[Any, float]:
    """Start a server; return it and the seconds until ready_url answered 200."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"{command[:4]} exited: {process.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(ready_url, timeout=1) as response:
                if response.status == 200:
                    return process, time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    process.kill()
    raise SystemExit(f"{command[:4]} did not become ready in {timeout:.0f} s")


def stop(process: Any) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def batch_round_trip_ms(port: int, records: list[dict[str, Any]], repeats: int = 20) -> float:
    """Median round trip of POST /predict/batch with 1000 rows, on one keep-alive connection."""

    async def run() -> float:
        rows = (records * (1000 // len(records) + 1))[:1000]
        payload = request_bytes("/predict/batch", json.dumps({"records": rows}).encode())
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            writer.write(payload)
            status, body, _ = await read_response(reader)
            timings.append((time.perf_counter() - started) * 1000)
            assert status == 200, body[:300]
        writer.close()
        return statistics.median(timings)

    return asyncio.run(run())


def config_without_log(project: Any, folder: Path) -> Path:
    """The project's config with absolute paths and `monitoring.log_predictions: false`."""
    import yaml

    config = yaml.safe_load(project.config_path.read_text(encoding="utf-8"))
    config["paths"] = {"data_dir": str(project.processed_dir.parent), "models_dir": str(project.models_dir),
                       "reports_dir": str(Path(folder, "reports"))}  # fmt: skip
    config["monitoring"] = {**config.get("monitoring", {}), "log_predictions": False}
    path = Path(folder, "configs", "config.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def held_out_records(project: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """Complete held-out rows as the API takes them (a date as its text) and as the MLflow model
    takes them (the model's columns: a date as its parts), and the MLflow run of the served model."""
    import pandas as pd

    from {{ cookiecutter.module_name }}.contract import Contract
    from {{ cookiecutter.module_name }}.model_files import read_metadata
    from {{ cookiecutter.module_name }}.monitoring.simulate import sample_records

    metadata = read_metadata(project.models_dir)
    contract = Contract.from_dict(metadata["contract"])
    test = pd.read_parquet(project.processed_dir / "test.parquet")[contract.feature_names].dropna()
    model_records = json.loads(test.to_json(orient="records"))
    api_records = sample_records(project, contract, len(model_records), drift=False, seed=0)
    return api_records, model_records, metadata.get("mlflow_run_id")


def mlflow_model_uri(project: Any, run_id: str) -> str:
    import mlflow

    mlflow.set_tracking_uri(project.tracking_uri)
    run = mlflow.get_run(run_id)
    logged = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    model = next(model for model in logged if model.source_run_id == run_id)
    return f"models:/{model.model_id}"


def logged_request_ids(port: int, bodies: list[bytes], count: int = 200) -> list[dict[str, Any]]:
    """Score `count` rows one by one; return a label for each (its own prediction as the actual value)."""
    labels = []
    for index in range(count):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=bodies[index % len(bodies)],
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request) as response:
            actual = json.load(response)["prediction"]
            labels.append({"request_id": response.headers["X-Request-ID"], "actual": actual})
    return labels


def post_feedback(port: int, labels: list[dict[str, Any]], per_second: float, stop: threading.Event) -> None:
    """POST /feedback one label at a time at `per_second` on a keep-alive connection, until stopped."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    started, sent = time.perf_counter(), 0
    while not stop.is_set():
        body = json.dumps(labels[sent % len(labels)])
        connection.request("POST", "/feedback", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200, response.read()[:300]
        response.read()
        sent += 1
        stop.wait(max(0.0, started + sent / per_second - time.perf_counter()))
    connection.close()


def feedback_cost(port: int, pid: int, bodies: list[bytes], args: argparse.Namespace, client: str) -> str:
    """Measure what POST /feedback, at a tenth of the prediction rate, costs the single-row predictions."""
    labels = logged_request_ids(port, bodies)
    time.sleep(2.0)  # the prediction log writes them (monitoring.flush_seconds)
    alone: list[Load] = []
    shared: list[Load] = []
    for _ in range(args.rounds):
        for loads, per_second in ((alone, 0.0), (shared, alone[-1].rps / 10 if alone else 0.0)):
            stop = threading.Event()
            poster = threading.Thread(target=post_feedback, args=(port, labels, per_second, stop))
            before = cpu_seconds(pid)
            if per_second:
                poster.start()
            loads.append(drive(port, "/predict", bodies, args.connections, args.seconds, client))
            stop.set()
            if per_second:
                poster.join()
            after = cpu_seconds(pid)
            loads[-1].cpu_seconds = None if before is None or after is None else after - before
    rps = [statistics.median(load.rps for load in loads) for loads in (alone, shared)]
    cpu = [_cpu_per_request(loads) for loads in (alone, shared)]
    text = (f"feedback cost                  : {(1 - rps[1] / rps[0]) * 100:5.1f}%   (of single-row req/s; floor "
            f"<= 5%; {rps[0]:.0f} -> {rps[1]:.0f} req/s with POST /feedback at a tenth of that)")  # fmt: skip
    if cpu[0] and cpu[1]:
        text += f"\nfeedback CPU per prediction    : {(cpu[1] / cpu[0] - 1) * 100:+5.1f}%   (independent of machine load)"
    return text


def load_options(description: str, rounds: int) -> argparse.ArgumentParser:
    """The options both benchmarks take: the config, and the shape and source of the load."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config", type=Path, default=None, help="config.yaml (default: configs/config.yaml)"
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per server and round")
    parser.add_argument("--rounds", type=int, default=rounds, help="rounds; the servers take turns in each")
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (auto: wrk if installed)",
    )
    return parser


def server_env() -> dict[str, str]:
    """The servers' environment: this project's code, no telemetry."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }


def main() -> int:
    from {{ cookiecutter.module_name }}.project import load_project

    parser = load_options(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("--skip-mlflow", action="store_true", help="leave out `mlflow models serve`")
    parser.add_argument("--feedback", action="store_true",
                        help="also measure predictions while POST /feedback runs at a tenth of their rate")  # fmt: skip
    args = parser.parse_args()
    client = load_client(args.client)

    project = load_project(args.config)
    records, model_records, run_id = held_out_records(project)
    ours = [json.dumps(record).encode() for record in records]
    env = server_env()
    # `mlflow models serve` runs `uvicorn` from PATH: make it this interpreter's, even without an activated venv.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        # name → (port, path, bodies); all servers stay up and take turns, so a background load
        # on this machine affects them alike.
        servers: dict[str, tuple[int, int, str, list[bytes]]] = {}
        port = free_port()
        command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "serve", "--port", str(port),
                   "--config", str(project.config_path)]  # fmt: skip
        process, ready_s = start(command, f"http://127.0.0.1:{port}/ready", env)
        stack.callback(stop, process)
        servers["this API"] = (process.pid, port, "/predict", ours)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/model") as response:
            runtime = json.load(response)["runtime"]
        batch_ms = batch_round_trip_ms(port, records)

        port = free_port()
        command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "serve", "--port", str(port),
                   "--config", str(config_without_log(project, folder))]  # fmt: skip
        process = start(command, f"http://127.0.0.1:{port}/ready", env)[0]
        stack.callback(stop, process)
        servers["this API, log off"] = (process.pid, port, "/predict", ours)

        Path(folder, "noop_app.py").write_text(NOOP_APP)
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "noop_app:app", "--app-dir", folder, "--port", str(port),
                   "--no-access-log", "--log-level", "warning"]  # fmt: skip
        process = start(command, f"http://127.0.0.1:{port}/docs", env)[0]
        stack.callback(stop, process)
        servers["no-op FastAPI"] = (process.pid, port, "/predict", ours)

        mlflow_ready = None
        if not args.skip_mlflow and run_id:
            port = free_port()
            command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", mlflow_model_uri(project, run_id),
                       "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
            mlflow_env = {**env, "MLFLOW_TRACKING_URI": project.tracking_uri}
            process, mlflow_ready = start(command, f"http://127.0.0.1:{port}/ping", mlflow_env)
            stack.callback(stop, process)
            wrapped = [json.dumps({"dataframe_records": [record]}).encode() for record in model_records]
            servers["mlflow models serve"] = (process.pid, port, "/invocations", wrapped)

        rounds: dict[str, list[Load]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (pid, port, path, bodies) in servers.items():
                before = cpu_seconds(pid)
                load = drive(port, path, bodies, args.connections, args.seconds, client)
                after = cpu_seconds(pid)
                load.cpu_seconds = None if before is None or after is None else after - before
                rounds[name].append(load)
        feedback = ""
        if args.feedback:
            pid, port, _, _ = servers["this API"]
            feedback = feedback_cost(port, pid, ours, args, client)

    report(
        rounds,
        runtime,
        ready_s,
        mlflow_ready,
        batch_ms,
        args.connections,
        project.config.model.family,
        client,
    )
    if feedback:
        print(feedback)
    return 0


def report(rounds: dict[str, list[Load]], runtime: str, ready_s: float, mlflow_ready: float | None,
           batch_ms: float, connections: int, family: str, client: str) -> None:  # fmt: skip
    """Print the median req/s, p50 and p99 over the rounds, and the ratios."""
    rps = {name: statistics.median(load.rps for load in loads) for name, loads in rounds.items()}
    print(f"\nmodel family {family}, runtime {runtime}; {connections} connections, single-row POSTs from "
          f"{client}, {len(next(iter(rounds.values())))} rounds (medians)\n")  # fmt: skip
    print(f"{'server':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/req':>12}")
    cpu = {name: _cpu_per_request(loads) for name, loads in rounds.items()}
    for name, loads in rounds.items():
        errors = sum(load.errors for load in loads)
        p50, p99 = (statistics.median(getattr(load, name) for load in loads) for name in ("p50_ms", "p99_ms"))
        per_request = f"{cpu[name]:>12.0f}" if cpu[name] else f"{'n/a':>12}"
        print(f"{name:<22}{rps[name]:>9.0f}{p50:>9.2f}{p99:>9.2f}{errors:>8}{per_request}")
    print()
    ours = rps["this API"]
    if "mlflow models serve" in rps:
        print(f"this API / mlflow models serve : {ours / rps['mlflow models serve']:6.1f}x   (floor >= 25x)")
    print(f"this API / no-op FastAPI       : {ours / rps['no-op FastAPI'] * 100:5.0f}%")
    print(
        f"prediction log cost            : {(1 - ours / rps['this API, log off']) * 100:5.1f}%   (of req/s; floor <= 10%)"
    )
    if cpu["this API"] and cpu["this API, log off"]:
        share = (cpu["this API"] / cpu["this API, log off"] - 1) * 100
        print(f"prediction log CPU per request : {share:+5.1f}%   (independent of machine load)")
    print(f"/ready after process start     : {ready_s:6.2f} s (floor <= 1.5 s)")
    if mlflow_ready is not None:
        print(f"mlflow models serve ready after: {mlflow_ready:6.2f} s")
    print(f"1000-row batch, round trip     : {batch_ms:6.1f} ms (median)")


def _cpu_per_request(loads: list[Load]) -> float | None:
    """Server CPU microseconds per request over all rounds, or None where it cannot be read."""
    if any(load.cpu_seconds is None for load in loads):
        return None
    sent = sum(load.sent for load in loads)
    return sum(load.cpu_seconds or 0.0 for load in loads) / sent * 1e6 if sent else None


if __name__ == "__main__":
    raise SystemExit(main())
