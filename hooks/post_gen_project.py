"""Prune the parts of the new project that the answers did not select; print the next steps."""

import json
import shutil
from pathlib import Path

# Cookiecutter renders this file with Jinja before running it, inside the new project folder.
# The answers arrive as one JSON document inside a raw string, so no answer can break the code.
ANSWERS_JSON = r"""{{ cookiecutter | jsonify }}"""

# The one place that says which answer removes which files (paths relative to the project root).
PATHS_TO_REMOVE: dict[tuple[str, str], tuple[str, ...]] = {
    ("license", "none"): ("LICENSE",),
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


def format_next_steps(answers: dict) -> str:
    """Return the commands a user runs after generation."""
    return NEXT_STEPS.format(slug=answers["project_slug"])


def main(answers_json: str = ANSWERS_JSON, root: Path | None = None) -> int:
    """Prune the project in root (default: the current folder), print next steps, return 0."""
    answers = json.loads(answers_json)
    remove_paths(root or Path.cwd(), paths_to_remove(answers))
    print(format_next_steps(answers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
