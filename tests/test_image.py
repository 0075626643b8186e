"""Build the baked project's real Dockerfile, run the image and call its API.

There is no Docker engine here: buildah builds the Dockerfile (`make docker-build
DOCKER_BUILD="buildah bud ..."`) and `buildah run` starts the image's server on the host network.
No image registry is reachable either, so the `python:<version>-slim` base is made once from
Debian's packages with debootstrap. One image per runtime: ONNX (the default linear model, the slim
`serve` extra) and skops (a random forest, the `serve-skops` extra).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPORT, bake, python, run

PYTHON_VERSION = "3.11"  # the template's default, and Debian bookworm's python3
BASE_IMAGE = f"docker.io/library/python:{PYTHON_VERSION}-slim"
HOW_TO_GET_A_BUILDER = (
    "apt-get install buildah podman debootstrap (as root), then run the tests again"
)
TRAINING_ONLY = ["mlflow", "optuna", "pandera", "evidently", "matplotlib", "skl2onnx"]
SKOPS_ONLY = ["sklearn", "scipy", "pandas", "skops"]
MAX_ONNX_VENV_MB = 200


def image_exists(name: str) -> bool:
    return (
        subprocess.run(
            ["buildah", "inspect", "--type", "image", name], capture_output=True
        ).returncode
        == 0
    )


@pytest.fixture(scope="module")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python:<version>-slim base, made from Debian's packages when it is not there yet."""
    if shutil.which("buildah") is None:
        pytest.skip(f"no image builder (buildah): {HOW_TO_GET_A_BUILDER}")
    if image_exists(BASE_IMAGE):
        return BASE_IMAGE
    if shutil.which("debootstrap") is None or shutil.which("podman") is None or os.geteuid() != 0:
        pytest.skip(f"no {BASE_IMAGE} and no way to make one: {HOW_TO_GET_A_BUILDER}")
    root = tmp_path_factory.mktemp("base") / "root"
    packages = "python3,python3-venv,ca-certificates"
    run(
        ["debootstrap", "--variant=minbase", f"--include={packages}", "bookworm", str(root)],
        cwd=root.parent,
        timeout=900,
    )
    (root / "usr/bin/python").symlink_to("python3")
    # pip inside the build reaches the package registry through this machine's certificates.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
    archive = root.parent / "base.tar"
    run(["tar", "-C", str(root), "-cf", str(archive), "."], cwd=root.parent)
    certificates = "/etc/ssl/certs/ca-certificates.crt"
    run(
        [
            "podman",
            "import",
            "--change",
            f"ENV PIP_CERT={certificates}",
            "--change",
            f"ENV SSL_CERT_FILE={certificates}",
            str(archive),
            BASE_IMAGE,
        ],
        cwd=root.parent,
    )
    return BASE_IMAGE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_until_ready(url: str, server: subprocess.Popen, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, (
            f"the image's server exited: {server.stdout.read() if server.stdout else ''}"
        )
        try:
            return get(f"{url}/ready")
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the image's server was not ready after {timeout:.0f} s")


@pytest.mark.parametrize(
    ("family", "runtime", "extra"),
    [("linear", "onnx", "serve"), ("random_forest", "skops", "serve-skops")],
)
def test_image_builds_runs_as_non_root_and_serves(
    tmp_path: Path, base_image: str, family: str, runtime: str, extra: str
) -> None:
    project = bake(tmp_path)
    module = project.name.replace("-", "_")
    config = project / "configs" / "config.yaml"
    config.write_text(config.read_text().replace("family: linear", f"family: {family}", 1))
    run([python(), "-m", module, "pipeline"], cwd=project)
    assert json.loads((project / "models" / "model.json").read_text())["runtime"] == runtime

    image = f"localhost/{project.name}-{runtime}:test"
    build = "buildah bud --isolation chroot --pull=never --layers=false"
    output = run(
        ["make", "docker-build", f"PYTHON={python()}", f"DOCKER_BUILD={build}", f"IMAGE={image}"],
        cwd=project,
        timeout=1200,
    ).stdout
    assert f"installs the {extra} extra" in output, (
        "make docker-build chose the extra from models/model.json"
    )
    container = run(["buildah", "from", "--pull=never", image], cwd=project).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [
            "buildah",
            "run",
            "--isolation",
            "chroot",
            container,
            "--",
            module,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        ready = wait_until_ready(url, server)
        assert ready == {"ready": True, "model_version": ready["model_version"], "runtime": runtime}
        assert get(f"{url}/health") == {"status": "ok"}
        with urllib.request.urlopen(f"{url}/", timeout=10) as page:
            assert b'fetch("/predict"' in page.read(), "the demo page ships in the wheel"
        example = get(f"{url}/openapi.json")["components"]["schemas"]["Record"]["examples"][0]
        answer = get(f"{url}/predict", example)
        assert answer["prediction"] in get(f"{url}/model")["classes"]

        def in_image(*command: str) -> str:
            return run(
                ["buildah", "run", "--isolation", "chroot", container, "--", *command], cwd=project
            ).stdout

        assert in_image("id", "-u").strip() == "10001", "the image runs as its non-root user"
        assert sorted(in_image("ls", "/app").split()) == ["configs", "models", "monitoring"]
        absent = TRAINING_ONLY + (SKOPS_ONLY if runtime == "onnx" else [])
        probe = f"import importlib.util as u; print([m for m in {absent!r} if u.find_spec(m)])"
        assert in_image("python", "-c", probe).strip() == "[]", (
            "training-only packages are not in the image"
        )
        venv_mb = int(in_image("du", "-sm", "/opt/venv").split()[0])
        size = run(
            ["buildah", "images", "--format", "{{.Size}}", image], cwd=project
        ).stdout.strip()
        REPORT.append(f"image ({runtime}, extra {extra}): {size}, serving venv {venv_mb} MB")
        if runtime == "onnx":
            assert venv_mb <= MAX_ONNX_VENV_MB, f"the ONNX serving venv is {venv_mb} MB"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run(["buildah", "rm", container], capture_output=True)
        subprocess.run(["buildah", "rmi", image], capture_output=True)
