"""Run the data stage: load → clean → split → infer the contract → validate → write.

Writes data/processed/{train,test}.parquet, data/processed/schema.json and
data/quarantine/quarantine.csv (the rows set aside, each with its reason).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..contract import Contract, feature_kind, infer_contract
from ..errors import DataError
from ..project import Project
from .clean import clean
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
    """Seeded train/test split, stratified by the target for classification."""
    from sklearn.model_selection import train_test_split

    cfg = project.config
    stratify = frame[target] if cfg.data.task == "classification" and cfg.split.stratify else None
    n_test = max(1, round(len(frame) * cfg.split.test_size))
    if stratify is not None and n_test < stratify.nunique():
        raise DataError(
            f"split.test_size: {cfg.split.test_size} gives {n_test} test rows for {stratify.nunique()} classes — raise split.test_size."
        )
    train, test = train_test_split(
        frame, test_size=cfg.split.test_size, random_state=cfg.split.seed, stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


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
    roles = prepared.roles
    train, test = split(prepared.frame, project, roles.target)
    contract = infer_contract(
        train,
        target=roles.target,
        task=cfg.data.task,
        features=prepared.features,
        id_columns=roles.id_columns,
        sensitive_columns=roles.sensitive_columns,
        ignored=prepared.ignored,
        datetime_columns=prepared.datetime_columns,
        date_formats=prepared.date_formats,
        drop_columns=roles.drop_columns,
        kinds={name: feature_kind(prepared.frame[name]) for name in prepared.features},
    )
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


def write_outputs(
    project: Project, train: pd.DataFrame, test: pd.DataFrame, contract: Contract, quarantine: pd.DataFrame
) -> None:
    processed = project.processed_dir
    processed.mkdir(parents=True, exist_ok=True)
    train.to_parquet(processed / "train.parquet", index=False)
    test.to_parquet(processed / "test.parquet", index=False)
    contract.save(processed / "schema.json")
    project.quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = project.quarantine_dir / "quarantine.csv"
    buffer = io.StringIO()
    quarantine.to_csv(buffer, index_label="source_row")
    target.write_text(buffer.getvalue(), encoding="utf-8")


def load_processed(project: Project) -> tuple[pd.DataFrame, pd.DataFrame, Contract]:
    """Read what the data stage wrote; tell the user to run it when it is missing."""
    processed = project.processed_dir
    paths = [processed / "train.parquet", processed / "test.parquet", processed / "schema.json"]
    for path in paths:
        if not path.is_file():
            raise DataError(f'No {path.relative_to(project.root)} — run "make data" first.')
    return pd.read_parquet(paths[0]), pd.read_parquet(paths[1]), Contract.load(paths[2])
