"""Column-level cleaning: names, missing markers, numbers, flags, dates, labels, identifiers.

Pure functions on pandas Series, each testable alone; data/clean.py runs them over the frame.
"""

from __future__ import annotations

import re
import unicodedata
import warnings

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from ..contract import MISSING_TOKENS
from .dates import accepted_formats, date_feature_names, date_features

# Words that mean "missing" in a column of numbers, flags or dates, but may be a real label
# ('none' is a severity class, 'missing' a status): label columns keep them.
MISSING_WORDS = {"none", "nil", "missing"}
# What read_csv turns into NaN: pandas' default markers less "None", which may be a real label
# (air bags: None / Driver only / Driver & Passenger). A label column keeps it as a label; in a
# column of numbers, flags or dates MISSING_WORDS makes it missing.
CSV_NA_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
CSV_NA_VALUES += ["<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"]
TRUE_TOKENS = {"true", "yes", "y", "t"}
FALSE_TOKENS = {"false", "no", "n", "f"}
# A text column becomes numbers (or dates) when at least this share of its values parse.
PARSE_SHARE = 0.9
DATE_PATTERN = re.compile(
    r"^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"  # 2024-01-31, 31/01/2024, 1.2.24
    r"|[A-Za-z]{3,9}[-/ ]\d{1,2}[-/ ,]+\d{2,4}"  # Jan-1-1995, March 3, 2021
    r"|\d{1,2}[-/ ][A-Za-z]{3,9}[-/ ]\d{2,4})"  # 3 Mar 2021, 01-Jan-95
    r"([ T]\d{1,2}:\d{2}(:\d{2})?.*)?$"  # optional time and offset
)
# "1,234.5" (a leading "0," is never a thousands group) and "0,612" / "1.234,5" (decimal comma).
THOUSANDS = re.compile(r"[-+]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?")
DECIMAL_COMMA = re.compile(r"[-+]?(\d{1,3}(\.\d{3})+|\d+),\d+")


def snake_case(name: object) -> str:
    """Normalise a column name: 'Body Mass (g)' → 'body_mass_g', 'billLength' → 'bill_length', 'Région' → 'region'.

    Accents are dropped; letters of other scripts are kept ('年龄' stays '年龄').
    """
    text = unicodedata.normalize("NFKD", str(name).strip())
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[\W_]+", "_", text).strip("_").lower()
    return text or "column"


def column_key(name: object) -> str:
    """Return the cleaned column name for a raw or configured one ('2010' → 'col_2010')."""
    key = snake_case(name)
    return f"col_{key}" if key[0].isdigit() else key


def parse_numbers(text: pd.Series) -> pd.Series:
    """Parse text as numbers: '$1,234.50' → 1234.5, '12%' → 12, '0,612' → 0.612; else NaN."""
    cleaned = text.str.replace(r"^([-+]?)\s*[$€£¥]\s*", r"\1", regex=True)
    cleaned = cleaned.str.replace(r"\s*%$", "", regex=True)
    with_comma = cleaned.dropna()
    with_comma = with_comma[with_comma.str.contains(",", regex=False)]
    if len(with_comma):
        if with_comma.str.fullmatch(THOUSANDS).all():
            cleaned = cleaned.str.replace(",", "", regex=False)
        elif with_comma.str.fullmatch(DECIMAL_COMMA).all():
            cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(cleaned, errors="coerce").astype(float)


def normalise_labels(column: pd.Series) -> pd.Series:
    """Clean label text: strip, missing markers → NaN, 'GOOD'/'good ' → the most common spelling."""
    if column.dtype.kind in "iuf":
        present = column.dropna()
        if (present % 1 == 0).all():
            return column.map(lambda v: v if pd.isna(v) else str(int(v))).astype(object)
        return column.map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    text = column.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(MISSING_TOKENS))
    present = text.dropna()
    if present.empty:
        return text.astype(object)
    folded = present.str.casefold()
    spelling = present.groupby(folded).agg(lambda group: group.value_counts().index[0])
    return text.str.casefold().map(spelling).astype(object).where(text.notna(), np.nan)


def coerce_column(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Give a column its real type; return it and a per-row reason for values that do not parse."""
    no_reason = pd.Series("", index=column.index)
    if column.dtype.kind in "biuf":
        return column.astype(float), no_reason
    if column.dtype.kind == "M":
        return column, no_reason
    text = column.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(MISSING_TOKENS | MISSING_WORDS))
    present = text.dropna()
    if present.empty:
        return pd.Series(np.nan, index=column.index, dtype=float), no_reason
    lowered = present.str.lower()
    if lowered.isin(TRUE_TOKENS | FALSE_TOKENS).all() and lowered.nunique() == 2:
        flags = text.str.lower().map(lambda v: np.nan if pd.isna(v) else float(v in TRUE_TOKENS))
        return flags.astype(float), no_reason
    numbers = parse_numbers(text)
    if numbers.notna().sum() >= PARSE_SHARE * len(present):
        bad = text.notna() & numbers.isna()
        return numbers, no_reason.mask(bad, f"{column.name}: '" + text[bad].astype(str) + "' is not a number")
    if present.str.match(DATE_PATTERN).mean() >= PARSE_SHARE:
        return coerce_as_date(column)
    return normalise_labels(column), no_reason


def coerce_as_number(column: pd.Series, flag: bool = False) -> tuple[pd.Series, pd.Series]:
    """Read a column as numbers (flag: yes/no flags too, as 1/0) whatever share of it parses, as
    new data for a trained model must be; return it and a per-row reason for values that do not."""
    no_reason = pd.Series("", index=column.index)
    if column.dtype.kind in "biuf":
        return column.astype(float), no_reason
    text = column.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(MISSING_TOKENS | MISSING_WORDS))
    values = parse_numbers(text)
    if flag:
        lowered = text.str.lower()
        values = values.mask(lowered.isin(TRUE_TOKENS), 1.0).mask(lowered.isin(FALSE_TOKENS), 0.0)
        values = values.where(values.isin([0.0, 1.0]))  # a flag is 0 or 1, as in training
    bad = text.notna() & ~np.isfinite(values)  # unparsed, or inf: the API refuses both
    expected = "a yes/no flag" if flag else "a finite number"
    return values.where(~bad), no_reason.mask(
        bad, f"{column.name}: '" + text[bad].astype(str) + f"' is not {expected}"
    )


def guess_date_format(column: pd.Series) -> str:
    """The strptime format that reads the most of the column's dates ('31/01/2024' → '%d/%m/%Y');
    '' for ISO 8601, for a column of datetimes already, or when pandas cannot tell."""
    if column.dtype.kind == "M":
        return ""
    text = column.astype("string").str.strip()
    sample = text[text.notna() & ~text.str.lower().isin(MISSING_TOKENS | MISSING_WORDS)].drop_duplicates()
    sample = sample.head(500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # ISO 8601 ('') first: it wins a tie. Each of the first values guessed month-first and day-first.
        found = {
            guess_datetime_format(value, dayfirst=first)
            for value in sample.head(20)
            for first in (False, True)
        }
        guesses = ["", *sorted(found - {None, ""})]
        read = [pd.to_datetime(sample, format=fmt or "ISO8601", errors="coerce", utc=True) for fmt in guesses]
    counts = [dates.notna().sum() for dates in read]
    best = guesses[counts.index(max(counts))]
    return "" if best.startswith("%Y-%m-%d") else best


def coerce_as_date(column: pd.Series, fmt: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Read a column as dates, in ISO 8601 or `fmt` (guessed from the column when None), whatever
    share of it parses; return it and a per-row reason for the values that do not."""
    no_reason = pd.Series("", index=column.index)
    if column.dtype.kind == "M":
        return column, no_reason
    fmt = guess_date_format(column) if fmt is None else fmt
    text = column.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(MISSING_TOKENS | MISSING_WORDS))
    dates = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    if fmt:
        dates = dates.fillna(pd.to_datetime(text, errors="coerce", format=fmt, utc=True))
    bad = text.notna() & dates.isna()
    reason = f"' is not a date ({accepted_formats(fmt)})"
    return dates, no_reason.mask(bad, f"{column.name}: '" + text[bad].astype(str) + reason)


def expand_datetimes(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Replace each datetime column with numeric year, month and day-of-week features (data/dates.py)."""
    derived: dict[str, list[str]] = {}
    for name in columns:
        values = frame[name]
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert(None)
        moments = [None if pd.isna(value) else value.to_pydatetime() for value in values]
        parts = pd.DataFrame(
            [date_features(name, moment) for moment in moments],
            index=frame.index,
            columns=date_feature_names(name),
            dtype=float,
        )
        frame = pd.concat([frame.drop(columns=name), parts], axis=1)
        derived[name] = list(parts.columns)
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
