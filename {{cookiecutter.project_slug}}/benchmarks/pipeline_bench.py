"""How much does `make pipeline` cost over a bare script that fits and dumps the same pipeline?

Runs, alternately and each in a fresh process, `python -m {{ cookiecutter.module_name }} pipeline`
(data → train with 5-fold CV → evaluate → promote, all tracked in MLflow) and a bare script that
imports pandas and scikit-learn, reads the same training data, fits the same kind of pipeline and
dumps it with skops. Prints both medians, wall-clock and CPU, and the ratio. Target: ratio ≤ 2.

The pipeline logs to MLflow from a second process, so it uses two cores where the bare script
uses one: run this on an otherwise idle machine, or the wall-clock ratio measures the other load.

    python benchmarks/pipeline_bench.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE_SCRIPT = """
import json, sys
import pandas as pd, skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

schema = json.load(open(sys.argv[1] + "/schema.json"))
train = pd.read_parquet(sys.argv[1] + "/train.parquet")
numeric = [f["name"] for f in schema["features"] if f["kind"] != "categorical"]
labels = [f["name"] for f in schema["features"] if f["kind"] == "categorical"]
pre = ColumnTransformer([
    ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
    ("categorical", OneHotEncoder(handle_unknown="ignore"), labels),
])
model = LogisticRegression(max_iter=2000) if schema["task"] == "classification" else Ridge()
pipe = Pipeline([("pre", pre), ("model", model)]).fit(train[numeric + labels], train[schema["target"]])
sio.dump(pipe, sys.argv[2])
"""


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return its wall-clock seconds and the CPU seconds of it and its children."""
    before, started = cpu_of_children(), time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, cpu_of_children() - before


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "project"
        workspace.mkdir()
        shutil.copytree(ROOT / "configs", workspace / "configs")
        pipeline = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "pipeline"]
        # One untimed run creates the MLflow database and the processed data the bare script reads.
        timed(pipeline, workspace, env)
        script = Path(tmp) / "bare.py"
        script.write_text(BARE_SCRIPT)
        bare = [
            sys.executable,
            str(script),
            str(workspace / "data" / "processed"),
            str(Path(tmp) / "bare.skops"),
        ]
        ours, reference = [], []
        for _ in range(args.repeats):
            reference.append(timed(bare, workspace, env))
            ours.append(timed(pipeline, workspace, env))
    for name, runs in (("bare fit + dump", reference), ("make pipeline", ours)):
        walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        print(
            f"{name + ':':17s} median {statistics.median(walls):.2f} s wall, "
            f"{statistics.median(cpus):.2f} s CPU  ({', '.join(f'{t:.2f}' for t in walls)})"
        )
    ratio = statistics.median(w for w, _ in ours) / statistics.median(w for w, _ in reference)
    print(f"ratio:            {ratio:.2f}×  (wall clock; target ≤ 2.0×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
