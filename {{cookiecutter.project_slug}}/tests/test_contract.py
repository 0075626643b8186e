"""The data contract: kinds, ranges and categories, and the contract survives JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.contract import BOOLEAN, CATEGORICAL, NUMERIC, Contract
from {{ cookiecutter.module_name }}.data.clean import Prepared, Roles
from {{ cookiecutter.module_name }}.data.prepare import infer_contract


def make_contract(frame: pd.DataFrame) -> Contract:
    roles = Roles(target="y", id_columns=[], drop_columns=[], sensitive_columns=[])
    prepared = Prepared(frame, frame.iloc[:0], ["size", "colour", "flag"], roles)
    return infer_contract(frame, prepared, "classification", example=frame.iloc[0].to_dict())


def test_infer_contract_kinds_ranges_and_categories() -> None:
    frame = pd.DataFrame(
        {
            "size": [1.0, 5.0, np.nan, 3.0],
            "colour": ["red", "blue", "red", "missing"],
            "flag": [0.0, 1.0, 1.0, 0.0],
            "y": ["a", "b", "a", "b"],
        }
    )
    contract = make_contract(frame)
    size, colour, flag = contract.features
    assert (size.kind, size.minimum, size.maximum, size.missing_share) == (NUMERIC, 1.0, 5.0, 0.25)
    assert colour.kind == CATEGORICAL
    assert colour.categories[0] == "red", "categories are ordered by frequency"
    assert flag.kind == BOOLEAN
    assert contract.classes == ["a", "b"]
    assert contract.example == {"size": 1.0, "colour": "red", "flag": False}, "the row as the API takes it"


def test_contract_round_trips_through_json(tmp_path: Path) -> None:
    frame = pd.DataFrame({"size": [1.0, 2.0], "colour": ["x", "y"], "flag": [0.0, 1.0], "y": ["a", "b"]})
    contract = make_contract(frame)
    contract.save(tmp_path / "schema.json")
    assert Contract.load(tmp_path / "schema.json") == contract
