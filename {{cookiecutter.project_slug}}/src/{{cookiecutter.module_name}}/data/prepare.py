"""Run the data stage: load → clean → split → infer the contract → validate → write."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..contract import (
    BOOLEAN,
    CATEGORICAL,
    MAX_LISTED_CATEGORIES,
    MISSING_CATEGORY,
    NUMERIC,
    Contract,
    Feature,
)
from ..errors import DataError
from ..project import Project
from .clean import Prepared, clean
from .load import load_raw
from .validate import validate


@dataclass
class DataSummary:
    rows_raw: int
    rows_train: int
    rows_test: int
    rows_quarantined: int
    duplicates: int
    features: int
    ignored: dict[str, str]
    digest: str
    quarantine_file: Path

    def describe(self) -> list[str]:
        """What the data stage did, for the command line: counts, then notes worth acting on."""
        counts = f"{self.rows_raw} rows → {self.rows_train} train / {self.rows_test} test, {self.features} features, {self.duplicates} duplicates dropped, {self.rows_quarantined} rows quarantined"
        lines = [counts]
        if self.rows_quarantined:
            lines.append(f"quarantined rows and reasons: {self.quarantine_file}")
        if self.duplicates > 0.1 * self.rows_raw:
            share = 100 * self.duplicates / self.rows_raw
            duplicates = f"[yellow]note[/yellow]: {self.duplicates} exact duplicate rows ({share:.0f} percent of the data) were kept once each, so that no row sits in both the training and the test split; coarse columns often repeat like this"
            lines.append(duplicates)
        return lines + [
            f"[yellow]note[/yellow]: column '{name}' {reason}" for name, reason in self.ignored.items()
        ]


def split(frame: pd.DataFrame, project: Project, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/test split, stratified by the target for classification; rows keep their index."""
    from sklearn.model_selection import train_test_split

    cfg = project.config
    stratify = frame[target] if cfg.data.task == "classification" and cfg.split.stratify else None
    n_test = max(1, round(len(frame) * cfg.split.test_size))
    if stratify is not None and n_test < stratify.nunique():
        raise DataError(
            f"split.test_size: {cfg.split.test_size} gives {n_test} test rows for {stratify.nunique()} classes — raise split.test_size."
        )
    return train_test_split(
        frame, test_size=cfg.split.test_size, random_state=cfg.split.seed, stratify=stratify
    )


def digest(frame: pd.DataFrame) -> str:
    """Return a content hash of a frame, stable across runs and file formats."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    header = "|".join(f"{c}:{frame[c].dtype}" for c in frame.columns).encode()
    return hashlib.sha256(header + hashed.tobytes()).hexdigest()


def prepare_data(project: Project) -> DataSummary:
    """Run the data stage and write processed data, contract and quarantine."""
    cfg = project.config
    raw = load_raw(project)
    prepared = clean(raw, project)
    train, test = split(prepared.frame, project, prepared.roles.target)
    contract = infer_contract(train, prepared, cfg.data.task, held_out_example(train, test, prepared))
    validate(train, contract, check_ranges=True)
    validate(test, contract, check_ranges=False)
    write_outputs(project, train, test, contract, prepared.quarantine)
    return DataSummary(
        len(raw),
        len(train),
        len(test),
        len(prepared.quarantine),
        prepared.duplicates,
        len(prepared.features),
        prepared.ignored,
        digest(pd.concat([train, test])),
        project.quarantine_dir / "quarantine.csv",
    )


def infer_contract(train: pd.DataFrame, prepared: Prepared, task: str, example: dict[str, Any]) -> Contract:
    """Describe the training split as the contract; each feature's kind is judged on every cleaned
    row (0/1 in the training split but 2 in the held-out one is a number), a derived one is a number.

    Args:
        example: a held-out row, cleaned, with each date column's text under its name.
    """
    roles, derived = prepared.roles, prepared.derived
    parts = {new: source for source, news in prepared.datetime_columns.items() for new in news}
    features = []
    for name in prepared.features:
        kind = NUMERIC if name in derived else feature_kind(prepared.frame[name])
        features.append(describe_feature(train[name], kind, parts.get(name), plain(example.get(name))))
    record = {f.name: f.example for f in features if f.name not in parts and f.name not in derived}
    y = train[roles.target]
    classes = sorted(str(value) for value in y.dropna().unique()) if task == "classification" else None
    return Contract(
        target=roles.target,
        task=task,
        features=features,
        classes=classes,
        target_range=None if classes else [float(y.min()), float(y.max())],
        id_columns=roles.id_columns,
        sensitive_columns=roles.sensitive_columns,
        drop_columns=roles.drop_columns,
        ignored=prepared.ignored,
        datetime_columns=prepared.datetime_columns,
        n_rows=len(train),
        date_formats=prepared.date_formats,
        derived=derived,
        example=record | {name: example[name] for name in prepared.datetime_columns},
    )


def describe_feature(column: pd.Series, kind: str, derived_from: str | None, example: Any) -> Feature:
    """One feature as the training split shows it: its range or its labels (most frequent first)."""
    present = column[column.notna() & (column != MISSING_CATEGORY)]
    if kind == CATEGORICAL:
        ranked = sorted(present.astype(str).value_counts().items(), key=lambda item: (-item[1], item[0]))
        seen = {"categories": [name for name, _ in ranked[:MAX_LISTED_CATEGORIES]]}
        example = None if example == MISSING_CATEGORY else example
    else:
        seen = {"minimum": float(present.min()), "maximum": float(present.max())} if len(present) else {}
        example = bool(example) if kind == BOOLEAN and example is not None else example
    missing = round(1.0 - len(present) / len(column), 6) if len(column) else 0.0
    return Feature(
        column.name, kind, **seen, missing_share=missing, derived_from=derived_from, example=example
    )


def feature_kind(column: pd.Series) -> str:
    """Classify a cleaned column: numbers, 0/1 flags, or labels."""
    if column.dtype.kind == "b":
        return BOOLEAN
    if column.dtype.kind in "iuf":
        values = set(column.dropna().unique().tolist())
        return BOOLEAN if values and values <= {0, 1} and len(values) == 2 else NUMERIC
    return CATEGORICAL


def plain(value: Any) -> Any:
    """A numpy scalar as a JSON-safe Python value; None for a missing one."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and not math.isfinite(value) else value


def held_out_example(train: pd.DataFrame, test: pd.DataFrame, prepared: Prepared) -> dict[str, Any]:
    """The first held-out row the API takes as it is (no value missing, no label unseen in training),
    for its docs and the demo page; each date as the source wrote it."""
    features = test[prepared.features]
    usable = features.notna().all(axis=1) & (features != MISSING_CATEGORY).all(axis=1)
    for name in features.select_dtypes(object).columns:
        usable &= features[name].isin(train[name])
    label = usable.idxmax() if usable.any() else test.index[0]
    row = test.loc[label].to_dict()
    for name, text in prepared.date_text.loc[label].items():
        row[name] = None if pd.isna(text) else str(text).strip()
    return row


def write_outputs(
    project: Project, train: pd.DataFrame, test: pd.DataFrame, contract: Contract, quarantine: pd.DataFrame
) -> None:
    processed = project.processed_dir
    processed.mkdir(parents=True, exist_ok=True)
    train.to_parquet(processed / "train.parquet", index=False)
    test.to_parquet(processed / "test.parquet", index=False)
    contract.save(processed / "schema.json")
    project.quarantine_dir.mkdir(parents=True, exist_ok=True)
    quarantine.to_csv(project.quarantine_dir / "quarantine.csv", index_label="source_row", encoding="utf-8")


def load_processed(project: Project) -> tuple[pd.DataFrame, pd.DataFrame, Contract]:
    """Read what the data stage wrote; tell the user to run it when it is missing."""
    processed = project.processed_dir
    paths = [processed / "train.parquet", processed / "test.parquet", processed / "schema.json"]
    for path in paths:
        if not path.is_file():
            raise DataError(f'No {path.relative_to(project.root)} — run "make data" first.')
    return pd.read_parquet(paths[0]), pd.read_parquet(paths[1]), Contract.load(paths[2])
