"""Clean the raw frame: column names, roles, types, the target, derived features; set aside unusable rows."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..contract import MISSING_CATEGORY
from ..errors import DataError
from ..project import Project
from .columns import (
    coerce_column,
    column_key,
    expand_datetimes,
    guess_date_format,
    looks_like_identifier,
    normalise_labels,
)
from .derived import run_hook

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
    """The cleaned data (indexed by source row) and everything learned while cleaning it."""

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    features: list[str]
    roles: Roles
    ignored: dict[str, str] = field(default_factory=dict)
    datetime_columns: dict[str, list[str]] = field(default_factory=dict)
    duplicates: int = 0
    date_formats: dict[str, str] = field(default_factory=dict)  # besides ISO 8601, see guess_date_format
    derived: list[str] = field(default_factory=list)  # made by data/derived.py
    date_text: pd.DataFrame | None = None  # each date column as the source wrote it, by source row


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
    """Map the config's column names to cleaned names: a raw header as written (spaces aside), else a
    cleaned name, else the one raw header that snake-cases like it; fail on a missing or ambiguous one."""
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
    reasons = check_target(frame, reasons, target, data.task)
    bad = reasons != ""
    quarantine = original[bad].assign(**{REASON: reasons[bad]})
    frame = frame[~bad]
    before = len(frame)
    frame = frame.drop_duplicates()
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
    formats = {name: guess_date_format(original[name]) for name in dates}
    frame, parts = expand_datetimes(frame, dates)
    features = [c for c in frame.columns if c not in {target, *id_columns, *sensitive, *ignored}]
    if not features:
        raise DataError(
            f"no feature columns left besides the target '{target}' — set aside: {', '.join(ignored) or 'none'}; "
            "check data.drop_columns and data.id_columns (dates read best as ISO, 2024-01-31)."
        )
    frame = frame.drop(columns=[c for c in ignored if c in frame.columns])
    labels = [c for c in features if frame[c].dtype == object]
    frame[labels] = frame[labels].fillna(MISSING_CATEGORY).astype(str)
    made = run_hook({name: frame[name].to_numpy() for name in features}, len(frame))
    frame, duplicates = frame.assign(**made), before - len(frame)
    features += list(made)
    return Prepared(
        frame, quarantine, features, roles, ignored, parts, duplicates, formats, list(made), original[dates]
    )


def check_target(frame: pd.DataFrame, reasons: pd.Series, target: str, task: str) -> pd.Series:
    """Check that the target fits the task; add a reason to each row of a class too rare to split."""
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
        return reasons
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
    rare_rows = frame[target].isin(rare) & (reasons == "")
    reason = "class '" + frame[target].astype(str) + "' has 1 row — at least 2 are needed to split"
    reasons = reasons.mask(rare_rows, reason)
    usable = frame[target][reasons == ""].nunique()
    if usable < 2:
        raise DataError(
            f"data.target: '{target}' has {usable} usable class(es) — a classifier needs at least two."
        )
    return reasons
