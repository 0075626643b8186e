"""The data contract: which columns the model takes, their kinds, ranges and categories.

Inferred once from the cleaned training data and saved as JSON. Plain Python on purpose: the
API reads it without pandas, pandera or scikit-learn (data/validate.py turns it into a pandera schema).
"""

from __future__ import annotations

import json
import math
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
    date_formats: dict[str, str] = field(
        default_factory=dict
    )  # the format besides ISO 8601 of each date column
    drop_columns: list[str] = field(default_factory=list)  # data.drop_columns, as cleaned

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def feature(self, name: str) -> Feature:
        return next(feature for feature in self.features if feature.name == name)

    def features_of_kind(self, *kinds: str) -> list[str]:
        return [feature.name for feature in self.features if feature.kind in kinds]

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


def infer_contract(
    frame: Any,
    *,
    target: str,
    task: str,
    features: list[str],
    id_columns: list[str],
    sensitive_columns: list[str],
    ignored: dict[str, str],
    datetime_columns: dict[str, list[str]],
    kinds: dict[str, str] | None = None,
    date_formats: dict[str, str] | None = None,
    drop_columns: list[str] | None = None,
) -> Contract:
    """Describe the cleaned training frame (a pandas DataFrame) as a contract.

    Args:
        kinds: each feature's kind, judged on every cleaned row (see `feature_kind`); a column that
            is 0/1 in the training split but 2 in the held-out one is a number, not a flag.
            Judged on `frame` for the features it does not name.
    """
    derived = {new: source for source, news in datetime_columns.items() for new in news}
    kinds = kinds or {}
    described = [_describe(frame[name], derived.get(name), kinds.get(name)) for name in features]
    y = frame[target]
    classes = sorted(str(value) for value in y.dropna().unique()) if task == "classification" else None
    target_range = None if classes else [float(y.min()), float(y.max())]
    return Contract(
        target=target,
        task=task,
        features=described,
        classes=classes,
        target_range=target_range,
        id_columns=list(id_columns),
        sensitive_columns=list(sensitive_columns),
        ignored=dict(ignored),
        datetime_columns={key: list(value) for key, value in datetime_columns.items()},
        n_rows=len(frame),
        date_formats=dict(date_formats or {}),
        drop_columns=list(drop_columns or []),
    )


def _describe(column: Any, derived_from: str | None, kind: str | None) -> Feature:
    present = column[column.notna() & (column != MISSING_CATEGORY)]
    kind = kind or feature_kind(column)
    if kind == CATEGORICAL:
        counts = present.astype(str).value_counts(sort=False)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        seen = {"categories": [name for name, _ in ranked[:MAX_LISTED_CATEGORIES]]}
    else:
        seen = {"minimum": float(present.min()), "maximum": float(present.max())} if len(present) else {}
    return Feature(
        column.name,
        kind,
        **seen,
        missing_share=round(1.0 - len(present) / len(column), 6) if len(column) else 0.0,
        derived_from=derived_from,
        example=_plain(present.iloc[0]) if len(present) else None,
    )


def feature_kind(column: Any) -> str:
    """Classify a cleaned column: numbers, 0/1 flags, or labels."""
    kind = column.dtype.kind
    if kind == "b":
        return BOOLEAN
    if kind in "iuf":
        values = set(column.dropna().unique().tolist())
        return BOOLEAN if values and values <= {0, 1} and len(values) == 2 else NUMERIC
    return CATEGORICAL


def _plain(value: Any) -> Any:
    """Turn a numpy scalar into a JSON-safe Python value."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
