"""Prepare the data: load → clean → validate against the contract → split → write.

Rows that cannot be used are written to data/quarantine/ with the reason, never silently lost.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Project
from ..contract import BOOLEAN, CATEGORICAL, MISSING_CATEGORY, Contract, feature_kind, infer_contract
from ..errors import DataError
from .columns import (
    CSV_NA_VALUES,
    coerce_column,
    column_key,
    expand_datetimes,
    looks_like_identifier,
    normalise_labels,
)

REASON = "quarantine_reason"
MAX_LISTED = 20  # column names an error lists before "…"


@dataclass(frozen=True)
class Roles:
    """The cleaned names of the columns the config gives a role."""

    target: str
    id_columns: list[str]
    drop_columns: list[str]
    sensitive_columns: list[str]


@dataclass
class Prepared:
    """The cleaned data and everything learned while cleaning it."""

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    features: list[str]
    roles: Roles
    ignored: dict[str, str] = field(default_factory=dict)
    datetime_columns: dict[str, list[str]] = field(default_factory=dict)
    duplicates: int = 0


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


def load_raw(project: Project) -> pd.DataFrame:
    """Load the configured source: a bundled dataset or a CSV file or URL."""
    data = project.config.data
    if data.source == "penguins":
        from palmerpenguins import load_penguins

        return load_penguins()
    if data.source == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer(as_frame=True)
        frame = bunch.frame.copy()
        frame["target"] = bunch.target_names[bunch.target]
        return frame.rename(columns={"target": "diagnosis"})
    if data.source == "diabetes":
        from sklearn.datasets import load_diabetes

        frame = load_diabetes(as_frame=True, scaled=False).frame
        return frame.rename(columns={"target": "progression"})
    return read_csv(data.path, project, data.csv_separator)


def read_csv(location: str, project: Project, separator: str | None) -> pd.DataFrame:
    """Read a CSV from a path relative to the project, or from an http(s) URL."""
    is_url = location.startswith(("http://", "https://"))
    source = location if is_url else project.path(location)
    if not is_url and not Path(source).is_file():
        raise DataError(f"data.path: no file at {source} — check the path (relative to {project.root}).")
    try:
        if separator is None:
            separator = sniff_separator(source) if not is_url else ","
        frame = read_with_fallback_encoding(source, separator)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"data.path: {location} is empty — point data.path at a CSV with a header row."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = str(exc).splitlines()[0][:160]
        raise DataError(
            f"data.path: cannot read {location} as CSV ({detail}) — check the file, or set data.csv_separator."
        ) from None
    except OSError as exc:
        raise DataError(
            f"data.path: cannot open {location} ({exc.strerror or exc}) — check the path or URL."
        ) from None
    if frame.empty or len(frame.columns) < 2:
        raise DataError(
            f"data.path: {location} has {len(frame)} rows and {len(frame.columns)} column(s) — a dataset needs a target and at least one feature; if it is not comma-separated, set data.csv_separator (';', '\\t', ' ')."
        )
    return frame


def read_with_fallback_encoding(source: str | Path, separator: str) -> pd.DataFrame:
    """Read UTF-8 (with or without a byte-order mark), else Windows-1252, which decodes any byte.

    A semicolon-separated file is a European export: its '1,250' is 1.25, not 1250.
    """
    decimal = "," if separator == ";" else "."
    options = {
        "sep": separator,
        "decimal": decimal,
        "low_memory": False,
        "skipinitialspace": True,
        "keep_default_na": False,
        "na_values": CSV_NA_VALUES,
    }
    try:
        return pd.read_csv(source, encoding="utf-8-sig", **options)
    except UnicodeDecodeError:
        return pd.read_csv(source, encoding="cp1252", encoding_errors="replace", **options)


def sniff_separator(path: Path) -> str:
    """Guess the delimiter from the first few kilobytes (comma when unsure)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        sample = handle.read(64 * 1024)
    if not sample.strip():
        raise pd.errors.EmptyDataError
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Snake-case the column names, keeping them unique ('Price', 'price ' → price, price_2)."""
    keys = [column_key(column) for column in frame.columns]
    names: list[str] = []
    for key in keys:
        name, number = key, 1
        while name in names or (number > 1 and name in keys):  # a suffix never takes a real name
            number += 1
            name = f"{key}_{number}"
        names.append(name)
    return frame.set_axis(names, axis=1)


def resolve_roles(raw_columns: list[object], columns: list[str], project: Project) -> Roles:
    """Map the column names in the config to the cleaned names; fail clearly on a missing or ambiguous one.

    A configured name matches a raw header exactly (surrounding spaces aside), else a cleaned name,
    else the one raw header that snake-cases like it.
    """
    data = project.config.data
    raw = [str(name).strip() for name in raw_columns]

    def find(key: str, name: str) -> str:
        if name.strip() in raw:
            return columns[raw.index(name.strip())]
        if name in columns:
            return name
        alike = [i for i, header in enumerate(raw) if column_key(header) == column_key(name)]
        if len(alike) > 1:
            headers = ", ".join(f"'{raw_columns[i]}' → {columns[i]}" for i in alike)
            raise DataError(
                f"{key}: '{name}' matches {len(alike)} columns once names are snake-cased ({headers}) — "
                "write the exact header or the cleaned name."
            )
        if not alike:
            close = difflib.get_close_matches(column_key(name), columns, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            listed = ", ".join(columns[:MAX_LISTED]) + (
                f", … ({len(columns)} columns)" if len(columns) > MAX_LISTED else ""
            )
            raise DataError(f"{key}: column '{name}' is not in the data — {hint}available: {listed}.")
        return columns[alike[0]]

    roles = Roles(
        target=find("data.target", data.target),
        id_columns=[find("data.id_columns", name) for name in data.id_columns],
        drop_columns=[find("data.drop_columns", name) for name in data.drop_columns],
        sensitive_columns=[find("data.sensitive_columns", name) for name in data.sensitive_columns],
    )
    for key in ("id_columns", "drop_columns", "sensitive_columns"):
        if roles.target in getattr(roles, key):
            raise DataError(f"data.{key}: lists the target '{roles.target}' — remove it from data.{key}.")
    return roles


def clean(raw: pd.DataFrame, project: Project) -> Prepared:
    """Type, tidy and filter the raw frame; collect rows that cannot be used with their reason."""
    data = project.config.data
    frame = normalise_columns(raw)
    roles = resolve_roles(list(raw.columns), list(frame.columns), project)
    target, id_columns, sensitive = roles.target, roles.id_columns, roles.sensitive_columns
    blank = [
        name
        for name, raw_name in zip(frame.columns, raw.columns, strict=True)
        if str(raw_name).startswith("Unnamed:")
        and frame[name].isna().all()
        and name not in roles.drop_columns
    ]
    frame = frame.drop(columns=[*roles.drop_columns, *blank])
    original = frame.copy()
    reasons = pd.Series("", index=frame.index)
    for name in frame.columns:
        if name in id_columns:
            continue
        if name == target and data.task == "classification":
            frame[name] = normalise_labels(frame[name])
            continue
        frame[name], reason = coerce_column(frame[name])
        reasons = reasons.where(reasons != "", reason)
    reasons = reasons.where(reasons != "", np.where(frame[target].isna(), "missing target", ""))
    frame, reasons = check_target(frame, reasons, target, data.task)
    bad = reasons != ""
    quarantine = original[bad].assign(**{REASON: reasons[bad]})
    frame = frame[~bad]
    before = len(frame)
    frame = frame.drop_duplicates().reset_index(drop=True)
    candidates = [c for c in frame.columns if c not in {target, *id_columns, *sensitive}]
    empty = [c for c in candidates if frame[c].isna().all()]
    if empty:
        raise DataError(
            f"feature '{empty[0]}' is empty in every row — add it to data.drop_columns in {project.config_path.name}."
        )
    ignored = {c: "has no header and no values — dropped" for c in blank}
    ignored |= {
        c: "looks like an identifier (nearly every value unique) — list it in data.id_columns to silence this"
        for c in candidates
        if looks_like_identifier(frame[c])
    }
    dates = [c for c in candidates if c not in ignored and frame[c].dtype.kind == "M"]
    frame, derived = expand_datetimes(frame, dates)
    features = [c for c in frame.columns if c not in {target, *id_columns, *sensitive, *ignored}]
    if not features:
        raise DataError(
            f"no feature columns left besides the target '{target}' — set aside: {', '.join(ignored) or 'none'}; "
            "check data.drop_columns and data.id_columns (dates read best as ISO, 2024-01-31)."
        )
    frame = frame.drop(columns=[c for c in ignored if c in frame.columns])
    labels = [c for c in features if frame[c].dtype == object]
    frame[labels] = frame[labels].fillna(MISSING_CATEGORY).astype(str)
    return Prepared(frame, quarantine, features, roles, ignored, derived, before - len(frame))


def check_target(
    frame: pd.DataFrame, reasons: pd.Series, target: str, task: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Make the target fit the task: string labels for classification, numbers for regression."""
    y = frame[target]
    if task == "regression":
        if y.dtype.kind not in "iuf":
            raise DataError(
                f"data.target: '{target}' holds text such as {y.dropna().iloc[0]!r}, not numbers — "
                "use data.task: classification for labels."
            )
        values = y[reasons == ""].dropna().unique()
        if len(values) < 2:
            raise DataError(
                f"data.target: '{target}' has {len(values)} distinct value(s) ({', '.join(map(str, values[:1]))}) "
                "— nothing to learn; check data.target."
            )
        return frame, reasons
    labels = y.dropna()
    numeric = pd.to_numeric(labels, errors="coerce")
    if numeric.notna().all() and (numeric % 1 != 0).any() and labels.nunique() > 30:
        raise DataError(
            f"data.target: '{target}' has {labels.nunique()} distinct numeric values — did you mean data.task: regression?"
        )
    counts = labels[reasons[labels.index] == ""].value_counts()
    rare = counts[counts < 2].index
    if len(rare) >= counts.sum() / 2:  # half the rows are a class of their own: names, codes, free text
        raise DataError(
            f"data.target: '{target}' has {len(counts)} different values in {counts.sum()} rows, "
            f"{len(rare)} of them seen once — it looks like an identifier or free text, not a class to "
            "predict; choose another target (or data.task: regression for a number)."
        )
    is_rare = frame[target].isin(rare) & (reasons == "")
    reasons = reasons.mask(
        is_rare, "class '" + frame[target].astype(str) + "' has 1 row — at least 2 are needed to split"
    )
    usable = frame[target][reasons == ""].nunique()
    if usable < 2:
        raise DataError(
            f"data.target: '{target}' has {usable} usable class(es) — a classifier needs at least two."
        )
    return frame, reasons


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


def to_pandera(contract: Contract, *, check_ranges: bool):
    """Build the pandera schema of a processed frame from the contract."""
    import pandera.pandas as pa

    columns = {}
    for feature in contract.features:
        if feature.kind == CATEGORICAL:
            columns[feature.name] = pa.Column(str, nullable=False)
            continue
        checks = [pa.Check.isin([0.0, 1.0])] if feature.kind == BOOLEAN else []
        if check_ranges and feature.minimum is not None:
            checks.append(pa.Check.in_range(feature.minimum, feature.maximum))
        columns[feature.name] = pa.Column(float, checks=checks, nullable=True)
    if contract.task == "classification":
        columns[contract.target] = pa.Column(object, pa.Check.isin(contract.classes or []))
    else:
        columns[contract.target] = pa.Column(float, nullable=False, coerce=True)
    return pa.DataFrameSchema(columns, strict=False)


def validate(frame: pd.DataFrame, contract: Contract, *, check_ranges: bool) -> pd.DataFrame:
    """Check a processed frame against the contract; raise DataError naming the failing column."""
    import pandera.errors

    try:
        return to_pandera(contract, check_ranges=check_ranges).validate(frame)
    except pandera.errors.SchemaError as exc:
        raise DataError(f"processed data break the contract: {str(exc).splitlines()[0]}") from None


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
