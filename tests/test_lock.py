"""The lock file: a bake ships uv.lock and its export, and every install path reads them.

Cheap checks only: the image test (test_image.py) builds the Dockerfile, which installs with pip
constrained by requirements.txt, and test_bake.py's `make install` case runs `uv sync --locked`.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import TEMPLATE_DIR, bake, run


def load_post_gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "post_gen", TEMPLATE_DIR / "hooks/post_gen_project.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (pip install uv): the lock file is not tested")
    return found


def test_bake_ships_a_current_lock_and_its_export(tmp_path: Path, uv: str) -> None:
    project = bake(tmp_path)
    tracked = run(["git", "ls-files"], cwd=project).stdout.split()
    assert {"uv.lock", "requirements.txt"} <= set(tracked), "the first commit holds the lock"
    run([uv, "lock", "--check", "--offline"], cwd=project)
    pins = (project / "requirements.txt").read_text(encoding="utf-8")
    assert "\nmlflow==" in pins and "\nonnxruntime==" in pins and "\npsycopg==" in pins

    makefile = (project / "Makefile").read_text(encoding="utf-8")
    assert "uv sync --locked" in makefile and "-c requirements.txt" in makefile
    assert "--constraint requirements.txt" in (project / "Dockerfile").read_text(encoding="utf-8")
    assert "!requirements.txt" in (project / ".dockerignore").read_text(encoding="utf-8")
    workflow = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "make lock && git diff --exit-code -- uv.lock requirements.txt" in workflow


def test_make_lock_runs_the_hooks_commands(tmp_path: Path, uv: str) -> None:
    """What CI checks: `make lock` on a fresh bake changes nothing (the hook pins the same way)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed (apt-get install make)")
    project = bake(tmp_path)
    run(["make", "lock"], cwd=project)
    status = run(["git", "status", "--porcelain"], cwd=project).stdout
    assert status == "", f"make lock changed the shipped lock files:\n{status}"


def test_hook_says_how_to_lock_when_uv_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_gen = load_post_gen()
    monkeypatch.setenv("PATH", "")
    message = post_gen.lock_dependencies(tmp_path)
    assert message.startswith("uv.lock: not made") and "make lock" in message
    assert not (tmp_path / "uv.lock").exists()


def test_hook_says_why_when_uv_lock_fails(tmp_path: Path, uv: str) -> None:
    post_gen = load_post_gen()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\ndependencies = ["'
                                             'no-such-package-anywhere-42"]\n', encoding="utf-8")  # fmt: skip
    message = post_gen.lock_dependencies(tmp_path)
    assert message.startswith("uv.lock: not made, 'uv lock' failed (") and "make lock" in message
