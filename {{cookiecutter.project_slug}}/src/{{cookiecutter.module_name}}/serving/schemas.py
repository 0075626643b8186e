"""The API's request and response models, built from the data contract (schema.json).

What each field accepts is in its description (and /docs): numbers finite and within ±1e30, labels
in any spelling training read, a date as ISO 8601 or the format training read; values outside
training are scored and flagged in `warnings`. The data's other columns (identifiers, dropped,
sensitive, the target) are accepted and ignored, so a full row passes; any other field is a 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from ..config import ServingConfig
from ..contract import BOOLEAN, CATEGORICAL, MAX_LISTED_CATEGORIES, MISSING_TOKENS, Contract, Feature
from ..data.dates import accepted_formats, date_features, date_with, parse_date

# Far beyond any real measurement, and far enough below float32's limit (3.4e38) that the model's
# arithmetic stays finite: the ONNX graph computes in float32, after scaling by the training spread.
MAX_INPUT = 1e30


class TrainedLabels:
    """Give a label the spelling training gave it: stripped, a missing marker ('NA', '?') None,
    ' ADELIE' → 'Adelie', as data/columns.py cleans labels. Used by the API and by `predict`."""

    def __init__(self, categories: list[str]) -> None:
        self.spellings = {category.casefold(): category for category in categories}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # 1 and "1" name the same label: the contract spells labels as text
        if not isinstance(value, str):
            return value
        text = value.strip()
        try:
            text.encode()  # JSON allows "\ud800", which no model runtime can encode
        except UnicodeEncodeError:
            raise ValueError("not valid text (it holds an unpaired UTF-16 surrogate)") from None
        return None if text.lower() in MISSING_TOKENS else self.spellings.get(text.casefold(), text)


def input_limit(feature: Feature) -> float:
    """How far from zero the feature's values may be: MAX_INPUT, or MAX_INPUT training spreads
    when the training values span less than 1 (standardizing divides by that spread)."""
    low, high = feature.minimum, feature.maximum
    spread = high - low if low is not None and high is not None else 0.0
    return MAX_INPUT * min(1.0, spread) if spread > 0 else MAX_INPUT


@dataclass(frozen=True)
class ApiModels:
    """The pydantic models the routes declare, and how to turn a record into a model row."""

    record: type[BaseModel]
    batch_request: type[BaseModel]
    response: type[BaseModel]
    batch_response: type[BaseModel]
    checks: list[FeatureCheck]
    max_body_bytes: int  # larger bodies are refused (413) before they are read
    ignored: dict[str, str]  # Python name of each accepted-but-ignored field → its warning
    date_formats: dict[str, str]  # each date field → its format besides ISO 8601 (data/dates.py)

    def to_row(self, record: BaseModel) -> tuple[dict[str, Any], list[str]]:
        """Return the record as {feature: value} for the model (ignored fields left out), and its warnings."""
        sent = record.model_fields_set
        row = record.model_dump(by_alias=True, exclude=set(self.ignored))
        for name, fmt in self.date_formats.items():
            text = row.pop(name)
            row.update(date_features(name, None if text is None else parse_date(text, fmt)))
        warnings = [warning for check in self.checks if (warning := check.warn(row[check.name]))]
        return row, warnings + [warning for name, warning in self.ignored.items() if name in sent]


@dataclass(frozen=True)
class FeatureCheck:
    """What is scored but flagged: numbers outside the training range, labels never seen."""

    name: str
    bounds: tuple[float, float] | None = None  # the training range of a number
    known: frozenset[str] | None = None
    all_known: bool = True  # False: the contract lists only the most frequent labels

    def warn(self, value: Any) -> str | None:
        if value is None:
            return None
        if self.known is not None and str(value) not in self.known:
            most = f"is not one of the {len(self.known)} most frequent labels"
            unseen = "was not seen" if self.all_known else most
            return f"{self.name}: '{value}' {unseen} in training; scored as an unknown label"
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            low, high = self.bounds
            return f"{self.name}: {value} is outside the training range [{low:g}, {high:g}]"
        return None


def build_models(contract: Contract, serving: ServingConfig) -> ApiModels:
    """Build request and response models whose fields, types and docs come from the contract."""
    fields, checks = {}, []
    derived = {name for names in contract.datetime_columns.values() for name in names}
    for index, feature in enumerate(contract.features):
        annotation, info, check = _feature_field(feature, reject=serving.unknown_category == "reject")
        checks.append(check)
        if feature.name not in derived:  # else sent as its date (see _date_field)
            # Python names are f0, f1, ...; the JSON names (aliases) are the column names, which may
            # clash with BaseModel attributes (e.g. a column called "json" or "schema").
            fields[f"f{index}"] = (annotation, info)
    example = {feature.name: feature.example for feature in contract.features if feature.name not in derived}
    for index, (name, news) in enumerate(contract.datetime_columns.items()):
        fields[f"d{index}"] = _date_field(contract, name, news)
        parts = [contract.feature(new).example for new in news]
        example[name] = None if None in parts else date_with(*parts)
    ignored = {}
    for index, (name, role) in enumerate(_ignored_columns(contract).items()):
        fields[f"g{index}"] = (Any, Field(None, alias=name, description=f"Ignored: {role}."))
        ignored[f"g{index}"] = f"{name}: ignored ({role})"
    record = create_model(
        "Record",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        __doc__="One row of features, as in the training data.",
        **fields,
    )
    batch_request = create_model(
        "BatchRequest",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [{"records": [example]}]}),
        records=(list[record], Field(min_length=1, max_length=serving.max_batch_rows)),
    )
    prediction = _prediction_model(contract)
    response = create_model("PredictResponse", __base__=prediction, model_version=(str, ...))
    batch_response = create_model(
        "BatchResponse", predictions=(list[prediction], ...), model_version=(str, ...)
    )
    # max_batch_rows records with room to spare: 128 bytes per value, whitespace included.
    max_body_bytes = max(
        1 << 16, (serving.max_batch_rows + 1) * sum(len(name) + 128 for name in contract.feature_names)
    )
    date_formats = {name: contract.date_formats.get(name, "") for name in contract.datetime_columns}
    return ApiModels(
        record, batch_request, response, batch_response, checks, max_body_bytes, ignored, date_formats
    )


def _ignored_columns(contract: Contract) -> dict[str, str]:
    """The data's columns that are no model input, each with its role: sent with a row, they are ignored."""
    roles = {name: "an identifier column" for name in contract.id_columns}
    roles |= {name: "dropped by data.drop_columns" for name in contract.drop_columns}
    roles |= {name: "a sensitive column" for name in contract.sensitive_columns}
    roles |= {name: "set aside in training" for name in contract.ignored}
    return {**roles, contract.target: "the target"}


def _feature_field(feature: Feature, reject: bool) -> tuple[Any, Any, FeatureCheck]:
    """A feature's type, its field (JSON name, docs, example) and what is scored but flagged."""
    nullable, extra = feature.missing_share > 0, {}
    if feature.kind == CATEGORICAL:
        categories = feature.categories or []
        strict_labels = reject and len(categories) < MAX_LISTED_CATEGORIES
        listed = ", ".join(categories[:20]) + (", …" if len(categories) > 20 else "")
        policy = "others are refused (422)" if strict_labels else "others are scored as unknown and flagged"
        text = f"Label seen in training, in any case and spacing: {listed}; {policy}."
        if nullable:
            text += " null when unknown (scored as a missing label, as in training)."
        annotation: Any = Literal[tuple(categories)] if strict_labels and categories else str
        annotation = Annotated[
            annotation | None if nullable else annotation, BeforeValidator(TrainedLabels(categories))
        ]
        known = None if strict_labels else frozenset(categories)
        check = FeatureCheck(feature.name, known=known, all_known=len(categories) < MAX_LISTED_CATEGORIES)
    else:
        low, high = feature.minimum, feature.maximum
        if feature.kind == BOOLEAN:
            annotation, text, check = bool, "0/1 flag (true/false accepted).", FeatureCheck(feature.name)
        else:
            limit = input_limit(feature)
            annotation = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-limit, le=limit)]
            text, check = (
                "Finite number.",
                FeatureCheck(feature.name, (low, high) if low is not None else None),
            )
            if low is not None:
                text += f" Training range [{low:g}, {high:g}]; values outside it are scored and flagged."
        if nullable:
            annotation, text = annotation | None, text + " null when unknown (imputed as in training)."
        extra = {"x-training-minimum": low, "x-training-maximum": high}
    if feature.derived_from:
        text += f" Derived from '{feature.derived_from}'."
    examples = [feature.example] if feature.example is not None else None
    info = Field(..., alias=feature.name, description=text, examples=examples, json_schema_extra=extra)
    return annotation, info, check


def _date_field(contract: Contract, name: str, derived: list[str]) -> tuple[Any, Any]:
    """A date column's field: text that the function training used (data/dates.py) can read."""
    fmt = contract.date_formats.get(name, "")

    def readable(text: str) -> str:
        parse_date(text, fmt)  # raises ValueError, a 422 naming the field and the formats
        return text

    annotation: Any = Annotated[str, AfterValidator(readable)]
    text = f"Date, as {accepted_formats(fmt)}; the model reads its year, month and day of the week."
    if any(contract.feature(new).missing_share > 0 for new in derived):
        annotation, text = annotation | None, text + " null when unknown (imputed as in training)."
    return annotation, Field(
        ..., alias=name, description=text, json_schema_extra={"x-date-formats": accepted_formats(fmt)}
    )


def _prediction_model(contract: Contract) -> type[BaseModel]:
    warnings = (
        list[str],
        Field(default_factory=list, description="Values scored but outside training; columns ignored."),
    )
    if contract.task == "classification":
        text = f"Most probable class: one of {', '.join(contract.classes or [])}."
        chances = (dict[str, float], Field(..., description="Probability of each class."))
        return create_model(
            "Prediction",
            prediction=(str, Field(..., description=text)),
            probabilities=chances,
            warnings=warnings,
        )
    low, high = contract.target_range or (None, None)
    span = f" (training targets ranged {low:g} to {high:g})" if low is not None else ""
    text = f"Predicted {contract.target}{span}."
    return create_model("Prediction", prediction=(float, Field(..., description=text)), warnings=warnings)
