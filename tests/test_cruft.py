"""cruft: a project made with `cruft create` takes a later template change with `cruft update`.

The template is copied as it is on disk (uncommitted edits included) into a local git repository,
which plays the part of the template's GitHub repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE_DIR, run

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None, reason="needs git (apt-get install git)"
)
CRUFT = [sys.executable, "-m", "cruft"]


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits need a name and e-mail, which a CI machine may not have configured."""
    for variable in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{variable}_NAME", "Template Test")
        monkeypatch.setenv(f"{variable}_EMAIL", "test@example.com")


def git(folder: Path, *args: str) -> str:
    return run(["git", *args], cwd=folder).stdout


def commit_all(folder: Path, message: str) -> None:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)


def template_repository(destination: Path) -> Path:
    """Copy every file git would see in the template (tracked or new, not ignored) into a new repository."""
    listed = git(TEMPLATE_DIR, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE_DIR / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "Template as tested")
    return destination


def test_cruft_update_brings_a_template_change_into_a_project(tmp_path: Path) -> None:
    template = template_repository(tmp_path / "template")
    created = run(
        [*CRUFT, "create", str(template), "--no-input", "--output-dir", str(tmp_path)], cwd=tmp_path
    )
    project = tmp_path / "penguin-species-classifier"
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert (
        state["template"] == str(template)
        and state["commit"] == git(template, "rev-parse", "HEAD").strip()
    )
    assert not (project / ".git").exists(), "under cruft the hook leaves git to the user"
    assert "git: cruft is generating" in created.stdout
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Initial commit")
    config = project / "configs" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "# a project change\n", encoding="utf-8")
    commit_all(project, "A change of the project's own")

    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8") + "\nA line from the template.\n", encoding="utf-8"
    )
    commit_all(template, "Template: a new README line")
    outdated = subprocess.run([*CRUFT, "check"], cwd=project, capture_output=True, text=True)
    assert outdated.returncode == 1, "cruft check reports the template moved on"

    run([*CRUFT, "update", "-y"], cwd=project)
    assert (
        (project / "README.md").read_text(encoding="utf-8").endswith("A line from the template.\n")
    )
    assert config.read_text(encoding="utf-8").endswith("# a project change\n"), (
        "the project's change stays"
    )
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == git(template, "rev-parse", "HEAD").strip()
    run([*CRUFT, "check"], cwd=project)
