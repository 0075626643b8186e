"""After release, end to end in a baked project: serve, label, monitor, alert, retrain, swap.

Too slow for the generated suite's 60 s (a pipeline, a served API, three monitor runs and a retrain),
so it runs here, for a classification and a regression dataset.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .conftest import bake, project_env, python, run

MODULE = "penguin_species_classifier"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_receiver() -> tuple[str, list[dict[str, Any]]]:
    """A local webhook (http.server in a thread) that keeps each JSON body it receives."""
    received: list[dict[str, Any]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/hook", received


def served_version(url: str) -> str:
    return httpx.get(f"{url}/model", timeout=5).json()["version"]


@pytest.mark.parametrize("dataset", ["penguins", "diabetes"])
def test_the_after_release_loop(tmp_path: Path, dataset: str, slow_case: None) -> None:
    project = bake(tmp_path, dataset=dataset)
    cli = [python(), "-m", MODULE]
    run([*cli, "pipeline"], project)
    config_path = project / "configs" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["monitoring"].update(reload_seconds=0.5, flush_seconds=0.2)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    hook, received = start_receiver()
    env = {**project_env(project), "ALERT_WEBHOOK_URL": hook}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], cwd=project, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        first = served_version(url)

        run(
            [*cli, "simulate", "--port", str(port), "--rows", "300", "--labels", "true"],
            project,
            env=env,
        )
        run([*cli, "monitor", "--rows", "300"], project, env=env)
        assert not received, "no alert while every check passes"

        simulate = [
            *cli,
            "simulate",
            "--port",
            str(port),
            "--rows",
            "300",
            "--labels",
            "wrong",
            "--seed",
            "1",
        ]
        assert "300 stored" in run(simulate, project, env=env).stderr
        monitor = subprocess.run(
            [*cli, "monitor", "--rows", "300"], cwd=project, env=env, capture_output=True, text=True
        )
        assert monitor.returncode == 4, monitor.stderr[-3000:]
        assert "live_quality failed" in monitor.stderr
        (alert,) = received
        assert "live_quality" in alert["text"], alert

        retrain = run([*cli, "retrain"], project, env=env, timeout=900).stderr
        champion = json.loads((project / "models" / "model.json").read_text())["version"]
        if "is the new champion" in retrain:  # the gate passed: the API switches without a restart
            assert champion != first
            deadline = time.monotonic() + 30
            while served_version(url) != champion and time.monotonic() < deadline:
                time.sleep(0.2)
            assert served_version(url) == champion
        else:
            assert "the gate kept" in retrain, retrain[-3000:]
            time.sleep(1.5)
            assert champion == first and served_version(url) == first, (
                "a losing candidate is never served"
            )
    finally:
        server.terminate()
        server.wait(10)


def test_the_prefect_flow_in_the_venv_make_flow_makes(tmp_path: Path, slow_case: None) -> None:
    """tests/test_flow.py skips in the project's venv (Prefect needs an older FastAPI than the API):
    make .venv-flow with `make flow`'s own recipe, from the package registries, and run it there."""
    project = bake(tmp_path)
    makefile = (project / "Makefile").read_text(encoding="utf-8").splitlines()
    (recipe,) = [line.strip("\t@") for line in makefile if "python3 -m venv .venv-flow" in line]
    run(["sh", "-c", recipe], project, timeout=900)
    flow_python = str(project / ".venv-flow" / "bin" / "python")
    tests = ["-q", "-p", "no:cacheprovider", "--noconftest", "tests/test_flow.py"]
    result = run([flow_python, "-m", "pytest", *tests], project)
    assert "4 passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]
