"""Check the answers before any file is rendered; stop with one line per bad answer."""

import json
import keyword
import re
import sys

# Cookiecutter renders this file with Jinja before running it. The answers arrive as one JSON
# document inside a raw string, so quotes or backslashes in any answer cannot break the code.
ANSWERS_JSON = r"""{{ cookiecutter | jsonify }}"""

SLUG_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
MODULE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# Import names the generated project depends on or that tools treat specially: a package with
# one of these names would shadow the real one on sys.path.
RESERVED_MODULE_NAMES = frozenset(
    {
        "config", "data", "evidently", "fastapi", "httpx", "joblib", "matplotlib", "mlflow",
        "models", "numpy", "onnx", "onnxruntime", "optuna", "palmerpenguins", "pandas",
        "pandera", "pip", "pydantic", "pytest", "requests", "rich", "scikit_learn", "scipy",
        "setuptools", "skl2onnx", "sklearn", "skops", "sqlalchemy", "src", "starlette", "test",
        "tests", "typer", "uvicorn", "yaml",
    }
)  # fmt: skip

CHOICES = {
    "python_version": ("3.10", "3.11", "3.12", "3.13"),
    "dataset": ("penguins", "breast_cancer", "diabetes"),
    "license": ("MIT", "BSD-3-Clause", "Apache-2.0", "none"),
    "git_init": ("yes", "no"),
}


def suggest_slug(value: str) -> str:
    """Turn free text into the closest valid slug, or '' when nothing usable is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug.lstrip("0123456789-")


def check_project_slug(slug: str) -> str | None:
    """Return why the project slug is unusable, or None when it is fine."""
    if SLUG_PATTERN.fullmatch(slug):
        return None
    fix = "use lowercase letters, digits and single dashes, starting with a letter"
    suggestion = suggest_slug(slug)
    if suggestion:
        fix += f", e.g. '{suggestion}'"
    return f"project_slug {slug!r} is not a valid folder name — {fix}"


def check_module_name(name: str) -> str | None:
    """Return why the module name cannot be imported safely, or None when it is fine."""
    if not (MODULE_PATTERN.fullmatch(name) and name.isidentifier()):
        return (
            f"module_name {name!r} is not a valid package name — use lowercase letters, "
            "digits and underscores, starting with a letter, e.g. 'penguin_classifier'"
        )
    if keyword.iskeyword(name):
        return f"module_name {name!r} is a Python keyword — choose another name, e.g. '{name}_ml'"
    if name in sys.stdlib_module_names or name in RESERVED_MODULE_NAMES:
        origin = "standard-library" if name in sys.stdlib_module_names else "dependency"
        return (
            f"module_name {name!r} would shadow the {origin} module '{name}' — "
            f"choose a more specific name, e.g. '{name}_ml'"
        )
    return None


def check_author_email(email: str) -> str | None:
    """Return why the e-mail address looks malformed, or None when it is fine."""
    if EMAIL_PATTERN.fullmatch(email):
        return None
    return (
        f"author_email {email!r} is not an e-mail address — "
        "use the form name@example.com (one @, a dot in the domain, no spaces)"
    )


def check_choice(field: str, value: str) -> str | None:
    """Return why the value is not one of the field's choices, or None when it is."""
    allowed = CHOICES[field]
    if value in allowed:
        return None
    return f"{field} {value!r} is not supported — choose one of: {', '.join(allowed)}"


def validate_answers(answers: dict) -> list[str]:
    """Check every answer and return one message per problem, in prompt order."""
    problems = [
        check_project_slug(str(answers["project_slug"])),
        check_module_name(str(answers["module_name"])),
        check_author_email(str(answers["author_email"])),
        *(check_choice(field, str(answers[field])) for field in CHOICES),
    ]
    return [problem for problem in problems if problem]


def main(answers_json: str = ANSWERS_JSON) -> int:
    """Print each problem on stderr and return the exit status (1 if any answer is bad)."""
    problems = validate_answers(json.loads(answers_json))
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
