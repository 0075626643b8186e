"""A date as the model sees it, its year, month and day of the week: plain Python, so that training
(data/columns.py) and the API (serving/schemas.py) turn a date into the same numbers."""

from __future__ import annotations

from datetime import datetime, timezone

PARTS = ("year", "month", "day_of_week")
ISO = "ISO 8601 (2024-01-31)"


def accepted_formats(fmt: str) -> str:
    """The formats a date column reads, for messages: ISO 8601, and the format training found."""
    return f"{ISO} or {fmt}" if fmt else ISO


def parse_date(text: str, fmt: str = "") -> datetime:
    """Read a date in ISO 8601 or `fmt` (strptime's, e.g. '%d/%m/%Y'), an offset as naive UTC as in
    training; raise ValueError naming the accepted formats."""
    for read in (datetime.fromisoformat, lambda value: datetime.strptime(value, fmt)):
        try:
            moment = read(text.strip())
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"'{text}' is not a date: write it as {accepted_formats(fmt)}")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def date_feature_names(name: str) -> list[str]:
    return [f"{name}_{part}" for part in PARTS]


def date_features(name: str, moment: datetime | None) -> dict[str, float | None]:
    """The features made from date column `name`: year, month, day of the week (Monday is 0); None when missing."""
    if moment is None:
        return dict.fromkeys(date_feature_names(name))
    values = (moment.year, moment.month, moment.weekday())
    return {feature: float(value) for feature, value in zip(date_feature_names(name), values, strict=True)}


def date_with(year: float, month: float, day_of_week: float) -> str:
    """An ISO date with these features: the first such weekday of that month (for examples and `make simulate`)."""
    first = datetime(int(year), int(month), 1)
    return first.replace(day=1 + (int(day_of_week) - first.weekday()) % 7).date().isoformat()
