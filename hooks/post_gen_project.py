"""Prune the parts of the new project that the answers did not select; print the next steps."""

import json
import shutil
import subprocess
from pathlib import Path

# Cookiecutter renders this file with Jinja before running it, inside the new project folder.
# The answers arrive as one JSON document inside a raw string, so no answer can break the code.
ANSWERS_JSON = r"""{{ cookiecutter | jsonify }}"""

# The one place that says which answer removes which files (paths relative to the project root).
PATHS_TO_REMOVE: dict[tuple[str, str], tuple[str, ...]] = {
    ("license", "none"): ("LICENSE",),
    # Each project keeps the demo page's screenshot of its own dataset (tests/test_demo_page.py).
    ("dataset", "penguins"): ("docs/demo-breast_cancer.png", "docs/demo-diabetes.png"),
    ("dataset", "breast_cancer"): ("docs/demo-penguins.png", "docs/demo-diabetes.png"),
    ("dataset", "diabetes"): ("docs/demo-penguins.png", "docs/demo-breast_cancer.png"),
}

NEXT_STEPS = """\
Created {slug}. Next steps:
  cd {slug}
  make install     # create the virtual environment and install the project
  make pipeline    # data -> train -> evaluate, tracked in MLflow
  make test        # run the project's tests
  make mlflow-ui   # browse the tracked runs in your browser
"""


def paths_to_remove(answers: dict) -> list[str]:
    """List the project paths that the answers leave out."""
    return [
        path
        for (field, value), paths in PATHS_TO_REMOVE.items()
        if str(answers.get(field)) == value
        for path in paths
    ]


def remove_paths(root: Path, paths: list[str]) -> None:
    """Delete each path (file or folder) under root; a path already gone is skipped."""
    for relative in paths:
        path = root / relative
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def init_git(root: Path, answers: dict) -> str:
    """Make root a git repository with one commit of the generated files; say what happened."""
    manual = "git init -b main && git add -A && git commit -m 'Initial commit'"
    # Only cruft sets _commit: it writes .cruft.json after this hook and reruns the hook on update.
    if "_commit" in answers:
        return f"git: cruft is generating, so no repository was made (.cruft.json comes after this step); to start one: {manual}"
    if shutil.which("git") is None:
        return f"git: not found, so no repository was made (install git, then: {manual})"
    outer = git(root.parent, "rev-parse", "--show-toplevel")
    if outer.returncode == 0:
        return f"git: the folder is inside the repository at {outer.stdout.strip()}, so no new one was made"
    # The answers name the author when git has no identity configured; a configured one wins.
    identity = []
    for key, answer in (("user.name", "author_name"), ("user.email", "author_email")):
        if git(root, "config", "--get", key).returncode != 0:
            identity += ["-c", f"{key}={answers[answer]}"]
    steps = [("init", "-q", "-b", "main"), ("add", "-A"),
             (*identity, "commit", "-q", "-m", "Initial commit from cookiecutter-ml-starter")]  # fmt: skip
    for step in steps:
        result = git(root, *step)
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no message"]
            return f"git: '{' '.join(step)}' failed ({reason[0]}); finish by hand: {manual}"
    return "git: made a repository (branch main) with one commit of the generated files"


def lock_dependencies(root: Path) -> str:
    """Pin every dependency version: uv.lock, and its export requirements.txt for pip; say what happened."""
    if shutil.which("uv") is None:
        return "uv.lock: not made, uv is not installed (install it from https://docs.astral.sh/uv/, then: make lock)"
    # The same two commands as `make lock` (Makefile), which re-pins after a dependency change;
    # only that one may download a Python of the project's version when none is installed.
    steps = [("lock", "--quiet", "--no-python-downloads"), ("export", "--quiet", "--frozen", "--all-extras", "--group", "dev",
             "--no-emit-project", "--no-hashes", "-o", "requirements.txt")]  # fmt: skip
    for step in steps:
        try:
            result = subprocess.run(
                ["uv", *step], cwd=root, capture_output=True, text=True, timeout=300
            )
        except subprocess.TimeoutExpired:
            return f"uv.lock: not made, 'uv {step[0]}' took over 5 minutes; run `make lock` later"
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["no message"]
            reason = next((line for line in lines if line.startswith("error:")), lines[-1])
            return f"uv.lock: not made, 'uv {step[0]}' failed ({reason}); run `make lock`"
    return "uv.lock: pinned every dependency version (pip users: requirements.txt)"


def format_next_steps(answers: dict) -> str:
    """Return the commands a user runs after generation."""
    return NEXT_STEPS.format(slug=answers["project_slug"])


def main(answers_json: str = ANSWERS_JSON, root: Path | None = None) -> int:
    """Prune the project in root (default: the current folder), print next steps, return 0."""
    answers = json.loads(answers_json)
    root = root or Path.cwd()
    remove_paths(root, paths_to_remove(answers))
    print(lock_dependencies(root))
    if answers.get("git_init", "yes") == "yes":
        print(init_git(root, answers))
    print(format_next_steps(answers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
