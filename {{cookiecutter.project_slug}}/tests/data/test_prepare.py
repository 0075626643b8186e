"""The data stage: column cleaning, quarantine, the contract on processed data, and the split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.contract import BOOLEAN, MISSING_CATEGORY, NUMERIC
from {{ cookiecutter.module_name }}.data.clean import clean, normalise_columns
from {{ cookiecutter.module_name }}.data.columns import (
    coerce_column,
    column_key,
    looks_like_identifier,
    normalise_labels,
    parse_numbers,
    snake_case,
)
from {{ cookiecutter.module_name }}.data.prepare import load_processed, prepare_data
from {{ cookiecutter.module_name }}.data.validate import validate
from {{ cookiecutter.module_name }}.project import Project, load_project

from ..conftest import write_config


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Body Mass (g)", "body_mass_g"),
        ("billLength", "bill_length"),
        ("  Species ", "species"),
        ("%", "column"),
        ("Âge (années)", "age_annees"),
        ("Salaire (€)", "salaire"),
        ("年龄", "年龄"),
    ],
)
def test_snake_case(raw: str, expected: str) -> None:
    assert snake_case(raw) == expected


def test_normalise_columns_keeps_names_unique_when_they_clash() -> None:
    frame = pd.DataFrame(columns=["a", "A ", "a_2", "Région", "région"])
    assert list(normalise_columns(frame).columns) == ["a", "a_3", "a_2", "region", "region_2"]


@pytest.mark.parametrize("marker", [".", "-", "n.a.", "#N/A", "none", "NULL"])
def test_coerce_column_reads_missing_markers_in_numbers_as_missing(marker: str) -> None:
    values, reasons = coerce_column(pd.Series(["1.5", marker, "2", "3"] * 10, name="dose"))
    assert values.dtype == float and values.isna().sum() == 10, f"{marker!r} is a missing number"
    assert (reasons == "").all(), f"{marker!r} must not quarantine the row"


def test_label_words_that_also_mean_missing_stay_labels() -> None:
    labels = normalise_labels(pd.Series(["none", "mild", "severe", "None", "?", "."]))
    assert labels.tolist()[:4] == ["none", "mild", "severe", "none"], "'none' can be a class"
    assert labels.iloc[4:].isna().all()


def test_coerce_column_parses_numbers_and_reports_the_bad_value() -> None:
    column = pd.Series(["1", "2.5", " 3 ", "?", "abc"] + ["4"] * 20, name="size")
    values, reasons = coerce_column(column)
    assert values.dtype == float
    assert np.isnan(values[3]), "'?' is a missing value"
    assert reasons[4] == "size: 'abc' is not a finite number"
    assert (reasons.drop(4) == "").all()


def test_column_key_prefixes_names_that_start_with_a_digit() -> None:
    assert column_key("2010") == "col_2010"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1,234.5", "12", "2,000"], [1234.5, 12.0, 2000.0]),
        (["0,612", "-0,71", "1,149"], [0.612, -0.71, 1.149]),
        (["1.234,5", "7,25", "3"], [1234.5, 7.25, 3.0]),
        (["$6,262.00", "-$5", "€ 3"], [6262.0, -5.0, 3.0]),
        (["12.3%", "7%", "0.5 %"], [12.3, 7.0, 0.5]),
    ],
    ids=["thousands", "decimal-comma", "dot-thousands", "currency", "percent"],
)
def test_parse_numbers_reads_common_formats(values: list[str], expected: list[float]) -> None:
    assert parse_numbers(pd.Series(values, dtype="string")).tolist() == pytest.approx(expected)


def test_normalise_labels_strips_and_folds_case_to_the_common_spelling() -> None:
    labels = normalise_labels(pd.Series([" Yes", "no ", "YES", "Yes", "NO ", "no", None]))
    assert labels.tolist()[:6] == ["Yes", "no", "Yes", "Yes", "no", "no"]
    assert pd.isna(labels.iloc[6])
    assert normalise_labels(pd.Series([1.0, 0.0, 1.0])).tolist() == ["1", "0", "1"]


def test_coerce_column_recognises_booleans_and_dates() -> None:
    flags, _ = coerce_column(pd.Series(["Yes", "no", "YES", None]))
    assert flags.tolist()[:3] == [1.0, 0.0, 1.0]
    for text in (["2024-01-05", "2024-02-11", "2023-12-31"], ["Jan-1-1995", "Feb-1-1995", "Mar-1-1995"]):
        dates, _ = coerce_column(pd.Series(text))
        assert dates.dtype.kind == "M", text


def test_identifier_columns_are_detected() -> None:
    assert looks_like_identifier(pd.Series([f"user-{i}" for i in range(50)], dtype=object))
    assert looks_like_identifier(pd.Series(np.arange(50, dtype=float)))
    assert not looks_like_identifier(pd.Series(["a", "b"] * 25, dtype=object))


def messy_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "Customer ID": [f"C{i:04d}" for i in range(n)],
            "Signup Date": pd.date_range("2023-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "Age": rng.integers(18, 80, n).astype(str),
            "Plan": rng.choice(["basic", "pro", " pro ", None], n),
            "Churned": rng.choice(["yes", "no"], n),
        }
    )
    frame.loc[3, "Age"] = "forty"
    frame.loc[5, "Churned"] = None
    frame = pd.concat([frame, frame.iloc[[10]]])
    frame.to_csv(path, index=False)
    return path


def test_clean_quarantines_bad_rows_and_derives_features(tmp_path: Path) -> None:
    csv = messy_csv(tmp_path / "customers.csv")
    project = load_project(
        write_config(
            tmp_path,
            data={"source": "csv", "path": str(csv), "target": "Churned", "task": "classification"},
        )
    )
    prepared = clean(pd.read_csv(csv), project)
    reasons = prepared.quarantine["quarantine_reason"].tolist()
    assert "age: 'forty' is not a finite number" in reasons
    assert "missing target" in reasons
    assert prepared.duplicates == 1
    assert "customer_id" in prepared.ignored, "an ID-like text column is not a feature"
    assert {"signup_date_year", "signup_date_month", "signup_date_day_of_week"} <= set(prepared.features)
    assert set(prepared.frame["plan"]) == {"basic", "pro", MISSING_CATEGORY}
    assert set(prepared.frame["churned"]) == {"yes", "no"}, "labels keep their words"
    assert len(prepared.frame) + len(prepared.quarantine) + prepared.duplicates == 121, "no row is lost"


def test_processed_data_satisfy_the_contract(config_path: Path) -> None:
    project = load_project(config_path)
    summary = prepare_data(project)
    train, test, contract = load_processed(project)
    validate(train, contract, check_ranges=True)
    validate(test, contract, check_ranges=False)
    assert summary.rows_train == len(train) and summary.rows_test == len(test)
    assert not set(contract.feature_names) & {contract.target, *contract.sensitive_columns}


def test_split_is_seeded_and_stratified(config_path: Path) -> None:
    project = load_project(config_path)
    first = prepare_data(project)
    train, test, contract = load_processed(project)
    second = prepare_data(project)
    assert first.digest == second.digest, "same seed, same split"
    if contract.task == "classification":
        shares = train[contract.target].value_counts(normalize=True)
        test_shares = test[contract.target].value_counts(normalize=True)
        assert (shares - test_shares).abs().max() < 0.1


def csv_project(root: Path, frame: pd.DataFrame, **data: object) -> Project:
    frame.to_csv(root / "input.csv", index=False)
    settings = {"source": "csv", "path": "input.csv", "task": "classification", **data}
    return load_project(write_config(root, data=settings))


def test_drop_columns_are_dropped_and_the_rest_is_cleaned(tmp_path: Path) -> None:
    frame = messy_csv(tmp_path / "customers.csv")
    project = csv_project(
        tmp_path, pd.read_csv(frame), target="Churned", drop_columns=["Plan", "Signup Date"]
    )
    prepared = clean(pd.read_csv(tmp_path / "input.csv"), project)
    assert "plan" not in prepared.frame.columns and "signup_date_year" not in prepared.features
    assert "age" in prepared.features


def test_the_target_is_the_column_whose_header_the_config_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"balance ": 0.0, "Income": rng.normal(size=60), "Balance": rng.normal(size=60)})
    project = csv_project(tmp_path, frame, target="Balance", task="regression")
    prepared = clean(pd.read_csv(tmp_path / "input.csv"), project)
    assert prepared.roles.target == "balance_2", "'Balance' is the third header, not 'balance '"
    assert "balance_2" not in prepared.features, "the target never becomes a feature"
    assert prepared.frame["balance_2"].std() > 0


def test_a_flag_in_training_that_counts_higher_in_the_test_split_is_a_number(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"count": [0, 1] * 30, "x": rng.normal(size=60), "y": rng.choice(["a", "b"], 60)})
    frame.loc[7, "count"] = 2
    for seed in range(50):  # find a split that holds the one 2 out of training
        project = csv_project(tmp_path, frame, target="y")
        project = load_project(
            write_config(tmp_path, data=project.config.data.model_dump(), split={"seed": seed})
        )
        prepare_data(project)
        train, test, contract = load_processed(project)
        if 2 not in train["count"].values:
            break
    assert 2 in test["count"].values, "the case under test: 0/1 in training, 2 held out"
    kinds = {feature.name: feature.kind for feature in contract.features}
    assert kinds["count"] == NUMERIC, "a column that counts to 2 is not a flag"
    assert BOOLEAN not in kinds.values()


def test_a_semicolon_file_reads_commas_as_decimal_marks(tmp_path: Path) -> None:
    rows = "".join(f"{i},250;{i % 2};{'ab'[i % 2]}\n" for i in range(1, 41))
    (tmp_path / "input.csv").write_text("Dose (mg);Flag;Label\n" + rows, encoding="utf-8")
    project = load_project(
        write_config(
            tmp_path, data={"source": "csv", "path": "input.csv", "target": "Label", "task": "classification"}
        )
    )
    prepare_data(project)
    train, _, _ = load_processed(project)
    assert set(train["dose_mg"] % 1) == {0.25}, "'3,250' in a ';' file is 3.25, not 3250"


def test_a_none_label_in_a_csv_is_a_class_and_a_none_number_is_missing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    bags = rng.choice(["None", "Driver only", "Both"], 60)
    weight = [("None" if i % 7 == 0 else f"{value:.1f}") for i, value in enumerate(rng.normal(1500, 200, 60))]
    price = rng.normal(20, 5, 60).round(2)  # keeps the rows distinct: no exact duplicate is dropped
    rows = "".join(f"{p},{w},{b}\n" for p, w, b in zip(price, weight, bags, strict=True))
    (tmp_path / "input.csv").write_text("Price,Weight,AirBags\n" + rows, encoding="utf-8")
    data = {"source": "csv", "path": "input.csv", "target": "AirBags", "task": "classification"}
    project = load_project(write_config(tmp_path, data=data))
    summary = prepare_data(project)
    train, test, contract = load_processed(project)
    assert sorted(contract.classes or []) == ["Both", "Driver only", "None"], "pandas read 'None' as missing"
    assert summary.rows_quarantined == 0
    assert pd.concat([train, test])["weight"].isna().sum() == len(range(0, 60, 7))


def test_the_contract_example_is_a_held_out_row_as_the_api_takes_it(tmp_path: Path) -> None:
    raw = pd.read_csv(messy_csv(tmp_path / "customers.csv"))
    project = csv_project(tmp_path, raw, target="Churned")
    prepare_data(project)
    _, test, contract = load_processed(project)
    example = contract.example
    assert set(example) == {"age", "plan", "signup_date"}, "request fields: the date as one, no derived parts"
    assert example["signup_date"] in set(raw["Signup Date"]), "the date as the source wrote it"
    moment = pd.Timestamp(example["signup_date"])
    same = (test["age"] == example["age"]) & (test["plan"] == example["plan"])
    assert (
        same & (test["signup_date_year"] == moment.year) & (test["signup_date_month"] == moment.month)
    ).any()
