"""The data contract: which columns the model takes, their kinds, ranges and categories.

Inferred from the training split (data/prepare.py) and saved as JSON; plain Python, so the API
reads it without pandas (data/validate.py turns it into a pandera schema).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NUMERIC = "numeric"
BOOLEAN = "boolean"
CATEGORICAL = "categorical"
# Missing labels are this string, not NaN, so that the exported ONNX graph sees only strings.
MISSING_CATEGORY = "missing"
# Whole-cell markers of a missing value: spreadsheets, R, SAS/Stata ('.') and reports ('-', 'n.a.').
MISSING_TOKENS = {"", "?", ".", "-", "--", "na", "n/a", "n.a.", "#n/a", "nan", "null"}
# Categories kept in the contract per column: enough for docs and checks, bounded in size.
MAX_LISTED_CATEGORIES = 200


@dataclass(frozen=True)
class Feature:
    """One model input column as seen in training."""

    name: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None  # most frequent first
    missing_share: float = 0.0
    derived_from: str | None = None
    example: Any = None


@dataclass(frozen=True)
class Contract:
    """Everything downstream code may assume about the columns."""

    target: str
    task: str
    features: list[Feature]
    classes: list[str] | None = None
    target_range: list[float] | None = None
    id_columns: list[str] = field(default_factory=list)
    sensitive_columns: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)
    datetime_columns: dict[str, list[str]] = field(default_factory=dict)
    n_rows: int = 0
    date_formats: dict[str, str] = field(default_factory=dict)  # each date column's format besides ISO 8601
    derived: list[str] = field(default_factory=list)  # the features data/derived.py computes
    example: dict[str, Any] = field(default_factory=dict)  # a held-out row as the API takes it
    drop_columns: list[str] = field(default_factory=list)  # data.drop_columns, as cleaned

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def feature(self, name: str) -> Feature:
        return next(feature for feature in self.features if feature.name == name)

    def features_of_kind(self, *kinds: str) -> list[str]:
        return [feature.name for feature in self.features if feature.kind in kinds]

    @property
    def sent_features(self) -> list[Feature]:
        """The features a caller sends (a date's parts as the date): all but the derived ones."""
        return [feature for feature in self.features if feature.name not in self.derived]

    def same_problem(self, other: Contract) -> bool:
        """True when both take the same inputs (names, kinds) and predict the same target (classes)."""
        inputs = [
            [(feature.name, feature.kind) for feature in contract.features] for contract in (self, other)
        ]
        return inputs[0] == inputs[1] and (self.target, self.classes) == (other.target, other.classes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contract:
        features = [Feature(**feature) for feature in data["features"]]
        return cls(**{**data, "features": features})

    @classmethod
    def load(cls, path: Path) -> Contract:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
