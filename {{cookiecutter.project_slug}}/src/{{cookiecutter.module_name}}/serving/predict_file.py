"""Score a CSV or Parquet file with the served model: `{{ cookiecutter.module_name }} predict`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import model_files
from ..contract import BOOLEAN, CATEGORICAL, MAX_LISTED_CATEGORIES
from ..errors import UserError
from ..project import Project
from .runtime import load_contract, load_predictor
from .schemas import TrainedLabels

READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


def predict_file(
    project: Project, source: Path, output: Path | None = None, progress: Any = None
) -> tuple[Path, int]:
    """Score every row of a CSV or Parquet file; write it back with prediction columns.

    A row with a value the model cannot read (text in a number column, an impossible date, a label
    the API refuses) is not scored and not dropped: its `error` column says which value, and why.

    Args:
        progress: optional callable wrapping the chunk iterator (e.g. rich.progress.track).

    Returns:
        The path written: `output`, or `<input stem>_predictions<suffix>` next to the input, and
        the number of rows left unscored.
    """
    import pandas as pd

    from ..data.clean import normalise_columns
    from ..data.columns import coerce_as_date, coerce_as_number, expand_datetimes

    target = output or source.with_name(f"{source.stem}_predictions{source.suffix}")
    if READERS.get(target.suffix.lower()) is None:
        raise UserError(f"{target}: unsupported output type '{target.suffix}' — use .csv or .parquet.")
    frame = read_table(source)
    metadata = model_files.read_metadata(project.models_dir)
    contract = load_contract(metadata)
    features, problems = normalise_columns(frame.copy()), []
    for name, derived in contract.datetime_columns.items():  # a raw date: the features make data made
        if name in features.columns and not all(new in features.columns for new in derived):
            features[name], bad = coerce_as_date(features[name], contract.date_formats.get(name, ""))
            features = expand_datetimes(features, [name])[0]
            problems.append(bad)
    missing = [name for name in contract.feature_names if name not in features.columns]
    if missing:
        raise UserError(f"{source}: no column {', '.join(missing)} — the model needs every contract feature.")
    reject = project.config.serving.unknown_category == "reject"
    for feature in contract.features:
        column = features[feature.name]
        if feature.kind != CATEGORICAL:
            features[feature.name], bad = coerce_as_number(column, flag=feature.kind == BOOLEAN)
            problems.append(bad)
            continue
        categories = feature.categories or []
        labels = column.map(TrainedLabels(categories)).where(column.notna(), None)
        features[feature.name] = labels
        if reject and len(categories) < MAX_LISTED_CATEGORIES:  # refused, as by the API
            allowed = ", ".join(categories[:10]) + (", …" if len(categories) > 10 else "")
            text = (
                f"{feature.name}: '" + labels.astype(str) + f"' was not seen in training (allowed: {allowed})"
            )
            problems.append(text.where(labels.notna() & ~labels.isin(categories), ""))
    reasons = pd.concat(problems, axis=1).agg(
        lambda row: "; ".join(reason for reason in row if reason), axis=1
    )
    readable = features[reasons == ""]
    predictor = load_predictor(project.models_dir, metadata)
    size = project.config.serving.max_batch_rows
    chunks = range(0, len(readable), size)
    results = [pd.DataFrame({"prediction": pd.Series(dtype=object)})]
    for start in progress(chunks) if progress else chunks:
        chunk = readable.iloc[start : start + size][contract.feature_names]
        rows = chunk.astype(object).where(chunk.notna(), None).to_dict("records")
        scores = predictor.predict(rows)
        part = pd.DataFrame({"prediction": scores.predictions}, index=chunk.index)
        if scores.probabilities is not None:
            for index, label in enumerate(predictor.classes or []):
                part[f"probability_{label}"] = scores.probabilities[:, index]
        results.append(part)
    scored = pd.concat([frame, pd.concat(results).reindex(frame.index)], axis=1)
    unscored = int((reasons != "").sum())
    if unscored:
        scored["error"] = reasons.where(reasons != "", None)
    write_table(scored.assign(model_version=str(metadata["version"])), target)
    return target, unscored


def read_table(path: Path) -> Any:
    """Read a file to score. A CSV is read as text (its separator sniffed, as `make data` does),
    so a label such as '1' stays the label training saw, whatever else the column holds."""
    import pandas as pd

    from ..data.columns import CSV_NA_VALUES
    from ..data.load import sniff_separator

    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"{path}: unsupported file type '{path.suffix}' — use .csv or .parquet.")
    if not path.is_file():
        raise UserError(f"{path}: no such file — check the path.")
    try:
        if reader == "read_parquet":
            frame = pd.read_parquet(path)
        else:
            options = {"sep": sniff_separator(path), "dtype": str, "keep_default_na": False}
            try:
                frame = pd.read_csv(path, encoding="utf-8-sig", na_values=CSV_NA_VALUES, **options)
            except UnicodeDecodeError:
                frame = pd.read_csv(path, encoding="cp1252", na_values=CSV_NA_VALUES, **options)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty — it needs a header row and the rows to score.") from None
    except (ValueError, OSError) as exc:  # pandas' ParserError and pyarrow's errors are among them
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise UserError(
            f"{path}: cannot read it ({detail}) — check that it is a valid {path.suffix} file."
        ) from None
    return frame.reset_index(drop=True)  # rows are matched to their answers by position


def write_table(frame: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
