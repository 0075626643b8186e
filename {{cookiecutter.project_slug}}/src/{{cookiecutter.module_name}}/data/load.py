"""Load the configured source: a bundled dataset, a CSV file or URL, or an SQL table or query (sql.py)."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..project import Project
from .columns import CSV_NA_VALUES

BUNDLED = ("penguins", "breast_cancer", "diabetes")


def load_raw(project: Project) -> pd.DataFrame:
    data = project.config.data
    if data.source == "csv":
        return read_csv(data.path, project, data.csv_separator)
    if data.source == "sql":
        from .sql import read_sql

        return read_sql(project)
    return load_bundled(data.source)


def load_bundled(name: str) -> pd.DataFrame:
    if name == "penguins":
        from palmerpenguins import load_penguins

        return load_penguins()
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer(as_frame=True)  # its target is 0/1: name the classes
        return bunch.frame.drop(columns="target").assign(diagnosis=bunch.target_names[bunch.target])
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})


def write_sample_db(project: Project) -> list[str]:
    """Write the bundled datasets into <data_dir>/sample.db, one table each, to try `data.source: sql`."""
    path = project.path(project.config.paths.data_dir) / "sample.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        for name in BUNDLED:
            load_bundled(name).to_sql(name, connection, if_exists="replace", index=False)
    finally:
        connection.close()
    url = f"sqlite:///{os.path.relpath(path, project.root)}"
    return [
        f"{path}: tables {', '.join(BUNDLED)} — to read one, set data.source: sql, data.url: {url}, data.table: <name>"
    ]


def read_csv(location: str, project: Project, separator: str | None) -> pd.DataFrame:
    """Read a CSV from a path relative to the project, or from an http(s) URL."""
    is_url = location.startswith(("http://", "https://"))
    source = location if is_url else project.path(location)
    if not is_url and not Path(source).is_file():
        raise DataError(f"data.path: no file at {source} — check the path (relative to {project.root}).")
    try:
        separator = separator or (sniff_separator(source) if not is_url else ",")
        # A semicolon-separated file is a European export: its '1,250' is 1.25, not 1250.
        decimal = "," if separator == ";" else "."
        frame = read_csv_any_encoding(
            source, sep=separator, decimal=decimal, low_memory=False, skipinitialspace=True
        )
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


def read_csv_any_encoding(source: str | Path, **options: Any) -> pd.DataFrame:
    """Read a CSV as UTF-8 (with or without a byte-order mark), else as Windows-1252, which decodes
    any byte; pandas' missing-value markers less "None" (CSV_NA_VALUES)."""
    options = {"keep_default_na": False, "na_values": CSV_NA_VALUES, **options}
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
