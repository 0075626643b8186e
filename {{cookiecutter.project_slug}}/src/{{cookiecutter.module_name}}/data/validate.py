"""Check a processed frame against the data contract with pandera."""

from __future__ import annotations

import pandas as pd

from ..contract import BOOLEAN, CATEGORICAL, Contract
from ..errors import DataError


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
