"""A loaded config and where its paths point: the project folder every relative path starts from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from .config import CONFIG_ENV_VAR, CONFIG_RELATIVE_PATH, PREDICTION_LOG_URL_ENV_VAR, Config
from .errors import ConfigError, describe_validation_error


@dataclass(frozen=True)
class Project:
    """A validated config together with the folder its relative paths start from."""

    config: Config
    root: Path
    config_path: Path

    def path(self, relative: str | Path) -> Path:
        return (self.root / relative).resolve()

    @property
    def processed_dir(self) -> Path:
        return self.path(self.config.paths.data_dir) / "processed"

    @property
    def quarantine_dir(self) -> Path:
        return self.path(self.config.paths.data_dir) / "quarantine"

    @property
    def models_dir(self) -> Path:
        return self.path(self.config.paths.models_dir)

    @property
    def candidate_dir(self) -> Path:
        """Where train exports a new model; promote copies it to models_dir only if it wins."""
        return self.models_dir / "candidate"

    @property
    def reports_dir(self) -> Path:
        return self.path(self.config.paths.reports_dir)

    @property
    def results_dir(self) -> Path:
        """The champion's model card, metrics and figures: small, and committed so GitHub shows them."""
        return self.root / "results"

    @property
    def figures_dir(self) -> Path:
        return self.reports_dir / "figures"

    @property
    def monitoring_dir(self) -> Path:
        return self.reports_dir / "monitoring"

    @property
    def tracking_uri(self) -> str:
        """Return the tracking URI with a relative SQLite path anchored at the project root."""
        return self._anchored(self.config.tracking.uri)

    @property
    def prediction_log_url(self) -> str:
        """Return the prediction log's SQLAlchemy URL ($PREDICTION_LOG_URL, else monitoring.url), anchored."""
        return self._anchored(os.environ.get(PREDICTION_LOG_URL_ENV_VAR) or self.config.monitoring.url)

    def _anchored(self, uri: str) -> str:
        prefix = "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str(self.path(uri[len(prefix) :]))
        return uri


def find_config() -> Path:
    """Find configs/config.yaml from the environment variable, else in this folder or a parent."""
    if env_path := os.environ.get(CONFIG_ENV_VAR):
        return Path(env_path)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_RELATIVE_PATH).is_file():
            return folder / CONFIG_RELATIVE_PATH
    raise ConfigError(
        f"No {CONFIG_RELATIVE_PATH} in {here} or its parents — run from the project folder or pass --config PATH."
    )


def load_project(config_path: Path | None = None) -> Project:
    """Read, validate and anchor the config; raise ConfigError with the key and the fix."""
    path = Path(config_path) if config_path else find_config()
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist — pass the path to config.yaml.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where} — check indentation and quotes.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data:, model:, ...).")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, Config)}") from None
    root = path.resolve().parent
    if root.name == CONFIG_RELATIVE_PATH.parent.name:
        root = root.parent
    return Project(config=config, root=root, config_path=path.resolve())
