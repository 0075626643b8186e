"""Prepare the data: load → clean → validate against the contract → split → write.

Rows that cannot be used are written to data/quarantine/ with the reason, never silently lost.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Project
from .errors import DataError
from .schema import BOOLEAN, CATEGORICAL, MISSING_CATEGORY, Contract, infer_contract

MISSING_TOKENS = {"", "?", "na", "n/a", "nan", "null", "none", "missing"}
TRUE_TOKENS = {"true", "yes", "y", "t"}
FALSE_TOKENS = {"false", "no", "n", "f"}
# A text column becomes numbers (or dates) when at least this share of its values parse.
PARSE_SHARE = 0.9
DATE_PATTERN = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?.*)?$")
REASON = "quarantine_reason"


@dataclass
class Prepared:
    """The cleaned data and everything learned while cleaning it."""

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    features: list[str]
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
        frame = pd.read_csv(source, sep=separator, low_memory=False, skipinitialspace=True)
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
            f"data.path: {location} has {len(frame)} rows and {len(frame.columns)} column(s) — a dataset needs a target and at least one feature."
        )
    return frame


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


def snake_case(name: object) -> str:
    """Normalise a column name: 'Body Mass (g)' → 'body_mass_g', 'billLength' → 'bill_length'."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return text or "column"


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Snake-case the column names, keeping them unique."""
    seen: dict[str, int] = {}
    names = []
    for column in frame.columns:
        name = snake_case(column)
        if name[0].isdigit():
            name = f"col_{name}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return frame.set_axis(names, axis=1)


def check_columns(frame: pd.DataFrame, project: Project) -> None:
    """Fail clearly when the config names a column the data does not have."""
    data = project.config.data
    named = {
        "data.target": [data.target],
        "data.id_columns": data.id_columns,
        "data.drop_columns": data.drop_columns,
        "data.sensitive_columns": data.sensitive_columns,
    }
    available = list(frame.columns)
    for key, columns in named.items():
        for column in columns:
            if snake_case(column) not in available:
                raise DataError(
                    f"{key}: column '{column}' is not in the data — available: {', '.join(available)}."
                )
    target = snake_case(data.target)
    for key, columns in named.items():
        if key != "data.target" and target in {snake_case(c) for c in columns}:
            raise DataError(f"{key}: lists the target '{target}' — remove it from {key}.")


def coerce_column(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Give a text column its real type; return it and a per-row reason for unparseable values."""
    no_reason = pd.Series("", index=column.index)
    if column.dtype.kind in "biuf":
        return column.astype(float), no_reason
    if column.dtype.kind == "M":
        return column, no_reason
    text = column.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(MISSING_TOKENS))
    present = text.dropna()
    if present.empty:
        return pd.Series(np.nan, index=column.index, dtype=float), no_reason
    lowered = present.str.lower()
    if lowered.isin(TRUE_TOKENS | FALSE_TOKENS).all() and lowered.nunique() == 2:
        flags = text.str.lower().map(lambda v: np.nan if pd.isna(v) else float(v in TRUE_TOKENS))
        return flags.astype(float), no_reason
    numbers = pd.to_numeric(
        text.str.replace(",", "", regex=False) if _thousands(present) else text, errors="coerce"
    )
    if numbers.notna().sum() >= PARSE_SHARE * len(present):
        bad = text.notna() & numbers.isna()
        return numbers.astype(float), no_reason.mask(
            bad, f"{column.name}: '" + text[bad].astype(str) + "' is not a number"
        )
    if present.str.match(DATE_PATTERN).mean() >= PARSE_SHARE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dates = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = text.notna() & dates.isna()
        return dates, no_reason.mask(bad, f"{column.name}: '" + text[bad].astype(str) + "' is not a date")
    return text.astype(object).where(text.notna(), np.nan), no_reason


def _thousands(present: pd.Series) -> bool:
    return bool(present.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?").mean() > 0.5)


def expand_datetimes(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Replace each datetime column with numeric year, month and day-of-week features."""
    derived: dict[str, list[str]] = {}
    for name in columns:
        values = frame[name]
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert(None)
        parts = {
            f"{name}_year": values.dt.year,
            f"{name}_month": values.dt.month,
            f"{name}_day_of_week": values.dt.dayofweek,
        }
        for new, part in parts.items():
            frame[new] = part.astype(float)
        derived[name] = list(parts)
        frame = frame.drop(columns=name)
    return frame, derived


def looks_like_identifier(column: pd.Series) -> bool:
    """True for text or integer columns where (almost) every value is unique: names, codes, row ids."""
    present = column.dropna()
    if len(present) < 20:
        return False
    unique_share = present.nunique() / len(present)
    if column.dtype == object:
        return unique_share > 0.9
    if column.dtype.kind in "iu" or (column.dtype.kind == "f" and (present % 1 == 0).all()):
        return unique_share == 1.0 and (present.is_monotonic_increasing or present.is_monotonic_decreasing)
    return False


def clean(raw: pd.DataFrame, project: Project) -> Prepared:
    """Type, tidy and filter the raw frame; collect rows that cannot be used with their reason."""
    data = project.config.data
    frame = normalise_columns(raw)
    check_columns(frame, project)
    target = snake_case(data.target)
    id_columns = [snake_case(c) for c in data.id_columns]
    sensitive = [snake_case(c) for c in data.sensitive_columns]
    frame = frame.drop(columns=[snake_case(c) for c in data.drop_columns])
    original = frame.copy()
    reasons = pd.Series("", index=frame.index)
    for name in frame.columns:
        if name in id_columns:
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
    ignored = {
        c: "looks like an identifier (nearly every value unique) — list it in data.id_columns to silence this"
        for c in candidates
        if looks_like_identifier(frame[c])
    }
    dates = [c for c in candidates if c not in ignored and frame[c].dtype.kind == "M"]
    frame, derived = expand_datetimes(frame, dates)
    features = [c for c in frame.columns if c not in {target, *id_columns, *sensitive, *ignored}]
    if not features:
        raise DataError(
            f"no feature columns left besides the target '{target}' — check data.drop_columns and data.id_columns."
        )
    frame = frame.drop(columns=list(ignored))
    labels = [c for c in features if frame[c].dtype == object]
    frame[labels] = frame[labels].fillna(MISSING_CATEGORY).astype(str)
    return Prepared(frame, quarantine, features, ignored, derived, before - len(frame))


def check_target(
    frame: pd.DataFrame, reasons: pd.Series, target: str, task: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Make the target fit the task: string labels for classification, numbers for regression."""
    y = frame[target]
    if task == "regression":
        if y.dtype.kind not in "iuf":
            raise DataError(
                f"data.target: '{target}' holds text such as {y.dropna().iloc[0]!r} — use data.task: classification for labels."
            )
        return frame, reasons
    present = y.dropna()
    if y.dtype.kind == "f" and present.nunique() > 30:
        raise DataError(
            f"data.target: '{target}' has {present.nunique()} distinct numeric values — did you mean data.task: regression?"
        )
    labels = present.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    frame[target] = labels.reindex(frame.index)
    counts = labels[reasons[labels.index] == ""].value_counts()
    rare = counts[counts < 2].index
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
    target = snake_case(cfg.data.target)
    train, test = split(prepared.frame, project, target)
    contract = infer_contract(
        train,
        target=target,
        task=cfg.data.task,
        features=prepared.features,
        id_columns=[snake_case(c) for c in cfg.data.id_columns],
        sensitive_columns=[snake_case(c) for c in cfg.data.sensitive_columns],
        ignored=prepared.ignored,
        datetime_columns=prepared.datetime_columns,
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
