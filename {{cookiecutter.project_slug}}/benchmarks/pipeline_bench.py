"""How much does `make pipeline` cost over a bare script that fits and dumps the same pipeline?

Runs, in turn and each in a fresh process: a bare script that reads the training data, fits the
same kind of pipeline and dumps it with skops; a reference that does the same and logs the model
once with `mlflow.sklearn.log_model` in one MLflow run; and `python -m {{ cookiecutter.module_name }}
pipeline` (data → train with 5-fold CV → evaluate → promote, tracked in MLflow, in one process).
Prints the medians (wall clock and CPU) and both ratios to the bare script. Target: ≤ 3.5×.

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
if len(sys.argv) > 3:  # the reference: also one MLflow run that logs the model
    import mlflow
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(sys.argv[3])
    example = train[numeric + labels].head(20)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            pipe,
            name="model",
            serialization_format="skops",
            skops_trusted_types=sio.get_untrusted_types(file=sys.argv[2]),
            pip_requirements=["scikit-learn", "skops"],
            signature=infer_signature(example, pipe.predict(example)),
            input_example=example.head(3),
        )
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
        logged = [*bare, f"sqlite:///{Path(tmp) / 'reference.db'}"]
        runs: dict[str, list[tuple[float, float]]] = {
            "bare fit + dump": [],
            "+ one log_model": [],
            "make pipeline": [],
        }
        for _ in range(args.repeats):
            for name, command in zip(runs, (bare, logged, pipeline), strict=True):
                runs[name].append(timed(command, workspace, env))
    medians = {name: statistics.median(wall for wall, _ in times) for name, times in runs.items()}
    for name, times in runs.items():
        walls, cpus = [wall for wall, _ in times], [cpu for _, cpu in times]
        print(
            f"{name + ':':17s} median {medians[name]:.2f} s wall, {statistics.median(cpus):.2f} s CPU, "
            f"{medians[name] / medians['bare fit + dump']:.2f}× bare  ({', '.join(f'{t:.2f}' for t in walls)})"
        )
    print("target: make pipeline ≤ 3.5× bare (wall clock)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
