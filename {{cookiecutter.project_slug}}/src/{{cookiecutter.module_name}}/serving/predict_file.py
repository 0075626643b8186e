"""Score a CSV or Parquet file with the served model: `{{ cookiecutter.module_name }} predict`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import model_files
from ..contract import CATEGORICAL
from ..errors import UserError
from ..project import Project
from .runtime import load_contract, load_predictor

READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


def derive_dates(features: Any, contract: Any, source: Path) -> tuple[Any, Any]:
    """Turn each raw date column into the year/month/day-of-week features `make data` made from it;
    return the features and a per-row reason for dates that do not parse."""
    import pandas as pd

    from ..data.columns import coerce_as_date, expand_datetimes

    reasons = pd.Series("", index=features.index)
    for name, derived in contract.datetime_columns.items():
        if name not in features.columns or all(new in features.columns for new in derived):
            continue
        features[name], bad = coerce_as_date(features[name], contract.date_formats.get(name, ""))
        features, _ = expand_datetimes(features, [name])
        reasons = join_reasons(reasons, bad)
    return features, reasons


def unknown_labels(labels: Any, feature: Any, project: Project) -> Any:
    """Per-row reasons for labels never seen in training when serving.unknown_category is reject,
    as the API answers 422 to them (with warn they are scored, as by the API)."""
    import pandas as pd

    from ..contract import MAX_LISTED_CATEGORIES

    reasons = pd.Series("", index=labels.index)
    categories = feature.categories or []
    if project.config.serving.unknown_category != "reject" or len(categories) >= MAX_LISTED_CATEGORIES:
        return reasons
    unknown = labels.notna() & ~labels.isin(categories)
    allowed = ", ".join(categories[:10]) + (", …" if len(categories) > 10 else "")
    text = labels[unknown].astype(str)
    return reasons.mask(
        unknown, f"{feature.name}: '" + text + f"' was not seen in training (allowed: {allowed})"
    )


def join_reasons(reasons: Any, more: Any) -> Any:
    """Per-row reasons, '; '-separated: ('', 'x: ...') → 'x: ...'."""
    both = (reasons != "") & (more != "")
    return (reasons + more).mask(both, reasons + "; " + more)


def match_labels(column: Any, categories: list[str]) -> Any:
    """Labels as in training: stripped, missing markers missing, ' PRO ' → the trained spelling 'pro'."""
    from ..data.columns import MISSING_TOKENS

    known = {str(category).casefold(): category for category in categories}
    text = column.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(MISSING_TOKENS))
    cleaned = text.map(lambda value: known.get(value.casefold(), value), na_action="ignore")
    return cleaned.astype(object).where(text.notna(), None)


def predict_file(
    project: Project, source: Path, output: Path | None = None, progress: Any = None
) -> tuple[Path, int]:
    """Score every row of a CSV or Parquet file; write it back with prediction columns.

    A row with a value the model cannot read (text in a number column, an impossible date) is not
    scored and not dropped: its `error` column says which value, and why.

    Args:
        progress: optional callable wrapping the chunk iterator (e.g. rich.progress.track).

    Returns:
        The path written: `output`, or `<input stem>_predictions<suffix>` next to the input, and
        the number of rows left unscored.
    """
    import pandas as pd

    from ..contract import BOOLEAN
    from ..data.clean import normalise_columns
    from ..data.columns import coerce_as_number

    target = output or source.with_name(f"{source.stem}_predictions{source.suffix}")
    if READERS.get(target.suffix.lower()) is None:
        raise UserError(f"{target}: unsupported output type '{target.suffix}' — use .csv or .parquet.")
    frame = read_table(source)
    metadata = model_files.read_metadata(project.models_dir)
    contract = load_contract(metadata)
    features, reasons = derive_dates(normalise_columns(frame.copy()), contract, source)
    sent = [feature.name for feature in contract.sent_features]  # data/derived.py makes the others
    missing = [name for name in sent if name not in features.columns]
    if missing:
        raise UserError(f"{source}: no column {', '.join(missing)} — the model needs every contract feature.")
    for feature in contract.sent_features:
        column = features[feature.name]
        if feature.kind == CATEGORICAL:
            features[feature.name] = labels = match_labels(column, feature.categories or [])
            reasons = join_reasons(reasons, unknown_labels(labels, feature, project))
        else:
            features[feature.name], bad = coerce_as_number(column, flag=feature.kind == BOOLEAN)
            reasons = join_reasons(reasons, bad)
    readable = features[reasons == ""]
    predictor = load_predictor(project.models_dir, metadata)
    size = project.config.serving.max_batch_rows
    chunks = range(0, len(readable), size)
    results = [pd.DataFrame({"prediction": pd.Series(dtype=object)})]
    for start in progress(chunks) if progress else chunks:
        chunk = readable.iloc[start : start + size][sent]
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
