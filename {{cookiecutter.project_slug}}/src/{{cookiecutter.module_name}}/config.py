"""The sections of configs/config.yaml, the one file a user edits: their keys, defaults and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .metrics import metric_directions

CONFIG_RELATIVE_PATH = Path("configs") / "config.yaml"
CONFIG_ENV_VAR = "{{ cookiecutter.module_name | upper }}_CONFIG"
# Overrides monitoring.url, so that a database password stays out of config.yaml.
PREDICTION_LOG_URL_ENV_VAR = "PREDICTION_LOG_URL"
Source = Literal["penguins", "breast_cancer", "diabetes", "csv", "sql"]
# Where a failing `monitor` posts its alert (a Slack-compatible webhook); unset: no alert is sent.
ALERT_WEBHOOK_ENV_VAR = "ALERT_WEBHOOK_URL"


class StrictModel(BaseModel):
    """A frozen config section that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(StrictModel):
    source: Source
    path: str | None = None
    # sql: a SQLAlchemy URL without the password, which is read from the variable password_env names.
    url: str | None = None
    password_env: str | None = None
    table: str | None = None
    query: str | None = None
    target: str
    task: Literal["classification", "regression"]
    drop_columns: list[str] = []
    id_columns: list[str] = []
    sensitive_columns: list[str] = []
    csv_separator: str | None = None

    @model_validator(mode="after")
    def _source_has_its_keys(self) -> DataConfig:
        if self.source == "csv" and not self.path:
            raise ValueError("data.source is 'csv' but data.path is empty — set data.path")
        if self.source == "sql" and not self.url:
            raise ValueError("data.source is 'sql' but data.url is empty — set data.url")
        if self.source == "sql" and bool(self.table) == bool(self.query):
            raise ValueError("data.source is 'sql': set exactly one of data.table and data.query")
        if self.url and (urlsplit(self.url).password or "password=" in self.url):  # never repeat the URL
            raise ValueError(
                "data.url holds a password — remove it from the URL and set data.password_env to the name of "
                "the environment variable that holds it"
            )
        return self


class SplitConfig(StrictModel):
    test_size: float = Field(0.2, gt=0.0, lt=0.9)
    seed: int = 42
    stratify: bool = True


class ModelConfig(StrictModel):
    family: Literal["linear", "random_forest", "gradient_boosting"] = "linear"
    params: dict[str, Any] = {}


class FeaturesConfig(StrictModel):
    max_categories: int = Field(30, ge=2, le=1000)


class CVConfig(StrictModel):
    folds: int = Field(5, ge=2, le=20)


class TrackingConfig(StrictModel):
    uri: str = "sqlite:///mlflow.db"
    experiment: str = Field(min_length=1)


class EvaluationConfig(StrictModel):
    primary_metric: str | None = None
    slice_gap: float = Field(0.1, ge=0.0, le=1.0)
    slice_min_rows: int = Field(10, ge=1)


class PromotionConfig(StrictModel):
    margin_vs_baseline: float = Field(0.0, ge=0.0)
    margin_vs_champion: float = Field(0.0, ge=0.0)


class ParamRange(StrictModel):
    """One hyperparameter's search range: low/high (ints give integers) or a list of choices."""

    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    choices: list[Any] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _range_or_choices(self) -> ParamRange:
        if self.choices is not None:
            return self
        if self.low is None or self.high is None or self.low >= self.high:
            raise ValueError("give low < high (or a list of choices)")
        if self.log and self.low <= 0:
            raise ValueError("log: true needs low > 0")
        return self


class TuningConfig(StrictModel):
    trials: int = Field(20, ge=1, le=1000)
    search_space: dict[str, dict[str, ParamRange]] = {}


class ModelCardConfig(StrictModel):
    intended_use: str = "A portfolio demonstration of an end-to-end machine-learning workflow."
    out_of_scope_use: str = "Any decision about a real person, animal or business without further validation."
    # The data.source the two texts describe: on other data the card asks for new ones instead.
    written_for: Source | None = None

    def describes(self, source: str) -> bool:
        return self.written_for is None or self.written_for == source


class PathsConfig(StrictModel):
    data_dir: str = "data"
    models_dir: str = "models"
    reports_dir: str = "reports"


class ServingConfig(StrictModel):
    host: str = "127.0.0.1"  # this machine only; the Docker image passes 0.0.0.0 on its command line
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    max_batch_rows: int = Field(1000, ge=1, le=100_000)
    # Concurrent single-row requests wait at most this long to be scored together in one call.
    batch_wait_ms: float = Field(2.0, ge=0.0, le=100.0)
    unknown_category: Literal["reject", "warn"] = "reject"


class MonitoringConfig(StrictModel):
    log_predictions: bool = True
    url: str = "sqlite:///monitoring/predictions.db"
    # The API queues records and a background thread writes them in batches.
    queue_rows: int = Field(100_000, ge=100)
    flush_rows: int = Field(250, ge=1)
    flush_seconds: float = Field(1.0, gt=0.0, le=60.0)
    window_rows: int = Field(500, ge=1)
    window_hours: float | None = Field(None, gt=0.0)
    min_rows: int = Field(100, ge=1)
    drift_share: float = Field(0.5, gt=0.0, le=1.0)
    numeric_method: str = "wasserstein"
    numeric_threshold: float = Field(0.3, gt=0.0)
    categorical_method: str = "jensenshannon"
    categorical_threshold: float = Field(0.2, gt=0.0)
    # Live quality fails when the primary metric is this much (relative) worse than held out.
    quality_tolerance: float = Field(0.1, ge=0.0, le=10.0)
    min_labelled_rows: int = Field(50, ge=1)
    retrain_rows: int = Field(100_000, ge=1)  # the newest labelled predictions `retrain` adds
    reload_seconds: float = Field(10.0, ge=0.0)  # how often the API looks for a new champion (0: never)


class Config(StrictModel):
    project_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    project_slug: str = Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
    data: DataConfig
    split: SplitConfig = SplitConfig()
    features: FeaturesConfig = FeaturesConfig()
    model: ModelConfig = ModelConfig()
    cv: CVConfig = CVConfig()
    tracking: TrackingConfig
    evaluation: EvaluationConfig = EvaluationConfig()
    promotion: PromotionConfig = PromotionConfig()
    tuning: TuningConfig = TuningConfig()
    model_card: ModelCardConfig = ModelCardConfig()
    paths: PathsConfig = PathsConfig()
    serving: ServingConfig = ServingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()

    @model_validator(mode="after")
    def _metric_fits_the_task(self) -> Config:
        metric, allowed = self.evaluation.primary_metric, metric_directions(self.data.task)
        if metric is not None and metric not in allowed:
            raise ValueError(
                f"evaluation.primary_metric = {metric!r} is not a {self.data.task} metric — "
                f"use one of: {', '.join(allowed)} (or null for the default)"
            )
        return self
