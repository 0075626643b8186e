"""compose.yaml's topology, run without containers: the same programs started as processes.

compose.yaml is checked with a compose implementation's `config` command (podman-compose). Docker
cannot run here, so the test then starts what compose would: PostgreSQL (Debian's, a throwaway
cluster), an S3-compatible store (moto's server mode instead of MinIO), `mlflow server` on both,
then in a baked project `make pipeline` tracked on that server, the API logging to PostgreSQL
through PREDICTION_LOG_URL, `make simulate` and `make monitor` reading the log back.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import bake, project_env, python, run

BUCKET = "mlflow"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
COMPOSE_ENV = {"POSTGRES_PASSWORD": "pg-secret-1", "MINIO_ROOT_PASSWORD": "minio-secret-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    """Poll url until it answers 200; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url}: the server exited\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds} s\n{log.read_text()[-3000:]}")


def start(
    args: list[str], log: Path, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# --- compose.yaml ---------------------------------------------------------------------------


def test_compose_file_is_valid_and_reads_its_secrets_from_env(tmp_path: Path) -> None:
    podman_compose = shutil.which("podman-compose")
    if podman_compose is None:
        pytest.skip(
            "no compose implementation (pip install podman-compose): compose.yaml not checked"
        )
    project = bake(tmp_path, git_init="no")
    env = {key: value for key, value in os.environ.items() if key not in COMPOSE_ENV}
    refused = subprocess.run(
        [podman_compose, "config"], cwd=project, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "set POSTGRES_PASSWORD" in refused.stderr, (
        "no password, no start"
    )

    example = (project / ".env.example").read_text(encoding="utf-8")
    (project / ".env").write_text(
        re.sub(r"^(\w+_PASSWORD)=$", lambda m: f"{m[1]}={COMPOSE_ENV[m[1]]}", example, flags=re.M)
    )
    result = run([podman_compose, "config"], cwd=project, env=env)
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {
        "postgres",
        "minio",
        "minio-bucket",
        "mlflow",
        "api",
        "prometheus",
    }
    api = config["services"]["api"]
    assert "SERVE_EXTRA=serve,postgres" in api["build"]["args"], (
        "the API's image has the PostgreSQL driver"
    )
    assert api["environment"]["PREDICTION_LOG_URL"].startswith(
        "postgresql+psycopg://mlops:pg-secret-1@postgres"
    )
    mlflow_command = " ".join(config["services"]["mlflow"]["command"])
    assert "--artifacts-destination=s3://mlflow/" in mlflow_command
    assert "postgresql+psycopg://mlops:pg-secret-1@postgres:5432/mlflow" in mlflow_command
    published = [
        port for service in config["services"].values() for port in service.get("ports", [])
    ]
    assert published and all(port.startswith("127.0.0.1:") for port in published), published

    prometheus = yaml.safe_load(
        (project / "deploy/compose/prometheus.yml").read_text(encoding="utf-8")
    )
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["api:8000"]
    # The tracking server runs the MLflow and psycopg of uv.lock, so that server and client agree.
    pins = (project / "requirements.txt").read_text(encoding="utf-8")
    inline = config["services"]["mlflow"]["build"]["dockerfile_inline"]
    mlflow_tag = re.search(r"mlflow/mlflow:v(\S+)", inline)[1]
    assert f"\nmlflow=={mlflow_tag}\n" in pins, (
        f"compose.yaml's MLflow {mlflow_tag} is not uv.lock's"
    )
    psycopg = re.search(r"psycopg\[binary\]==(\S+?)\"", inline)[1]
    assert f"\npsycopg=={psycopg}\n" in pins, f"compose.yaml's psycopg {psycopg} is not uv.lock's"


# --- the same topology, as processes --------------------------------------------------------


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    return Path(found[-1]).parent if found[-1] else None


@pytest.fixture
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster with the databases mlflow and predictions; yields the URL's stem."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): topology not tested")
    psycopg = pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]'")
    # Not tmp_path: as root the server must run as `postgres`, which cannot enter pytest's folders.
    folder = Path(tempfile.mkdtemp(prefix="pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    pg_ctl = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "mlops",
                        "--no-sync"], check=True, capture_output=True)  # fmt: skip
        options = f"-k {folder} -p {port} -c listen_addresses=''"
        subprocess.run([*pg_ctl, "-l", str(folder / "log"), "-w", "-o", options, "start"],
                       check=True, capture_output=True)  # fmt: skip
        with psycopg.connect(
            host=str(folder), port=port, user="mlops", dbname="postgres", autocommit=True
        ) as db:
            db.execute("CREATE DATABASE mlflow")
            db.execute("CREATE DATABASE predictions")
        yield f"postgresql+psycopg://mlops@/{{database}}?host={folder}&port={port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def s3_endpoint(tmp_path: Path) -> Iterator[str]:
    """moto's S3-compatible server (MinIO's stand-in) with the artifact bucket."""
    moto_server = shutil.which("moto_server")
    if moto_server is None:
        pytest.skip("no S3-compatible server (pip install 'moto[server]'): topology not tested")
    boto3 = pytest.importorskip("boto3", reason="pip install boto3")
    port = free_port()
    log = tmp_path / "moto.log"
    server = start(
        [moto_server, "-H", "127.0.0.1", "-p", str(port)], log, {**os.environ, **AWS_ENV}
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{endpoint}/moto-api/", server, log)
        boto3.client("s3", endpoint_url=endpoint, **aws_keys()).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        stop(server)


def aws_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture
def tracking_server(tmp_path: Path, postgres: str, s3_endpoint: str) -> Iterator[str]:
    """`mlflow server` with runs and registry in PostgreSQL and artifacts in S3, as in compose.yaml."""
    mlflow = shutil.which("mlflow")
    if mlflow is None:
        pytest.skip("mlflow is not installed (pip install mlflow): topology not tested")
    port, log = free_port(), tmp_path / "mlflow.log"
    env = {**os.environ, **AWS_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}  # fmt: skip
    server = start([mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                    "--backend-store-uri", postgres.format(database="mlflow"),
                    "--artifacts-destination", f"s3://{BUCKET}/artifacts"], log, env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", server, log, seconds=120)
        yield url
    finally:
        stop(server)


def test_pipeline_serving_and_monitoring_on_tracking_server_s3_and_postgresql(
    tmp_path: Path, postgres: str, s3_endpoint: str, tracking_server: str
) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed (apt-get install make): topology not tested")
    import boto3
    from mlflow import MlflowClient

    project = bake(tmp_path)
    config = project / "configs" / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("uri: sqlite:///mlflow.db", f"uri: {tracking_server}"), encoding="utf-8"
    )
    make = ["make", f"PYTHON={python()}"]

    # Training: the run, the registry alias and the model's files land on the server.
    run([*make, "pipeline"], cwd=project)
    assert not (project / "mlflow.db").exists(), "nothing tracked locally"
    metadata = json.loads((project / "models" / "model.json").read_text(encoding="utf-8"))
    client = MlflowClient(tracking_uri=tracking_server)
    assert client.get_run(metadata["mlflow_run_id"]).info.status == "FINISHED"
    champion = client.get_model_version_by_alias(project.name, "champion")
    assert champion.run_id == metadata["mlflow_run_id"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, **aws_keys())
    keys = [
        item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="artifacts/")["Contents"]
    ]
    assert any(key.endswith("/MLmodel") for key in keys), keys
    assert any(key.endswith("/model.skops") for key in keys), keys
    assert any(key.endswith("/manifest.json") for key in keys), keys
    # The run manifest records the digest of the uv.lock the project shipped with.
    manifest = json.loads((project / "models" / "manifest.json").read_text(encoding="utf-8"))
    if (project / "uv.lock").is_file():
        assert (
            manifest["lock_digest"]
            == hashlib.sha256((project / "uv.lock").read_bytes()).hexdigest()
        )

    # Serving: every prediction is logged to PostgreSQL through PREDICTION_LOG_URL.
    log_url = postgres.format(database="predictions")
    env = {**project_env(project), "PREDICTION_LOG_URL": log_url}
    port, log = free_port(), tmp_path / "api.log"
    module = project.name.replace("-", "_")
    api = start([python(), "-m", module, "serve", "--port", str(port)], log, env, cwd=project)
    try:
        wait_for(f"http://127.0.0.1:{port}/ready", api, log)
        run([*make, "simulate", f"PORT={port}", "ROWS=120"], cwd=project, env=env)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert "http_requests_total" in response.read().decode()
    finally:
        stop(api)  # a clean stop writes what is still queued

    # Monitoring reads the same log back: 120 held-out rows, no drift.
    result = run([*make, "monitor"], cwd=project, env=env)
    assert "120 logged predictions" in result.stdout + result.stderr, result.stdout + result.stderr
