"""The API's request and response models, built from the data contract (schema.json).

Every feature is a required field; null only where training had missing values; numbers finite and
within ±1e30 (see input_limit), scored but flagged outside the training range; a label never seen is
refused (422) under `serving.unknown_category: reject`, scored as unknown and flagged under `warn`;
a date column is one text field under its own name (ISO 8601 or the format training read), turned
into the model's year, month and day-of-week features by data/dates.py, as in training;
identifier, sensitive, set-aside and target columns are accepted and ignored (named in `warnings`,
never scored or logged), so a full row of the data passes; any other unknown field is a 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from ..contract import BOOLEAN, CATEGORICAL, MAX_LISTED_CATEGORIES, Contract, Feature
from ..data.dates import accepted_formats, date_features, parse_date

# Far beyond any real measurement, and far enough below float32's limit (3.4e38) that the model's
# arithmetic stays finite: the ONNX graph computes in float32, after scaling by the training spread.
MAX_INPUT = 1e30


def _encodable(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("not valid text (it holds an unpaired UTF-16 surrogate)") from None
    return value


# Any label (the `warn` policy): JSON allows "\ud800", which no model runtime can encode.
Text = Annotated[str, AfterValidator(_encodable)]


def input_limit(feature: Feature) -> float:
    """How far from zero the feature's values may be: MAX_INPUT, or MAX_INPUT training spreads
    when the training values span less than 1 (standardizing divides by that spread)."""
    low, high = feature.minimum, feature.maximum
    spread = high - low if low is not None and high is not None else 0.0
    return MAX_INPUT * min(1.0, spread) if spread > 0 else MAX_INPUT


def finite_float(limit: float) -> Any:
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-limit, le=limit)]


@dataclass(frozen=True)
class ApiModels:
    """The pydantic models the routes declare, and how to turn a record into a model row."""

    record: type[BaseModel]
    batch_request: type[BaseModel]
    prediction: type[BaseModel]
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
    minimum: float | None = None
    maximum: float | None = None
    known: frozenset[str] | None = None
    all_known: bool = True  # False: the contract lists only the most frequent labels

    def warn(self, value: Any) -> str | None:
        if value is None:
            return None
        if self.known is not None:
            if str(value) in self.known:
                return None
            if self.all_known:
                return f"{self.name}: '{value}' was not seen in training; scored as an unknown label"
            return (
                f"{self.name}: '{value}' is not one of the {len(self.known)} most frequent labels in "
                "training; scored as an unknown label"
            )
        if (
            self.minimum is not None
            and self.maximum is not None
            and not self.minimum <= value <= self.maximum
        ):
            return f"{self.name}: {value} is outside the training range [{self.minimum:g}, {self.maximum:g}]"
        return None


def build_models(contract: Contract, *, max_batch_rows: int, unknown_category: str) -> ApiModels:
    """Build request and response models whose fields, types and docs come from the contract."""
    fields, checks = {}, []
    derived = {name for names in contract.datetime_columns.values() for name in names}
    for index, feature in enumerate(contract.sent_features):
        strict_labels = unknown_category == "reject" and len(feature.categories or []) < MAX_LISTED_CATEGORIES
        checks.append(_check(feature, strict_labels))
        if feature.name in derived:
            continue  # sent as its date (see _date_field)
        # Python names are f0, f1, ...; the JSON names (aliases) are the column names, which may
        # clash with BaseModel attributes (e.g. a column called "json" or "schema").
        fields[f"f{index}"] = (_annotation(feature, strict_labels), _field_info(feature, strict_labels))
    example = contract.example  # a held-out row (data/prepare.py)
    for index, (name, news) in enumerate(contract.datetime_columns.items()):
        fields[f"d{index}"] = _date_field(contract, name, news)
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
        records=(list[record], Field(min_length=1, max_length=max_batch_rows)),
    )
    prediction = _prediction_model(contract)
    response = create_model("PredictResponse", __base__=prediction, model_version=(str, ...))
    batch_response = create_model(
        "BatchResponse", predictions=(list[prediction], ...), model_version=(str, ...)
    )
    # max_batch_rows records with room to spare: 128 bytes per value, whitespace included.
    max_body_bytes = max(
        1 << 16, (max_batch_rows + 1) * sum(len(name) + 128 for name in contract.feature_names)
    )
    return ApiModels(
        record,
        batch_request,
        prediction,
        response,
        batch_response,
        checks,
        max_body_bytes,
        ignored,
        {name: contract.date_formats.get(name, "") for name in contract.datetime_columns},
    )


def _ignored_columns(contract: Contract) -> dict[str, str]:
    """The data's columns that are no model input, each with its role: sent with a row, they are ignored."""
    roles = {name: "an identifier column" for name in contract.id_columns}
    roles |= {name: "a sensitive column" for name in contract.sensitive_columns}
    roles |= {name: "set aside in training" for name in contract.ignored}
    return {**roles, contract.target: "the target"}


def _annotation(feature: Feature, strict_labels: bool) -> Any:
    if feature.kind == CATEGORICAL:
        categories = feature.categories or []
        annotation: Any = Literal[tuple(categories)] if strict_labels and categories else Text
    else:
        annotation = bool if feature.kind == BOOLEAN else finite_float(input_limit(feature))
    return annotation | None if feature.missing_share > 0 else annotation


def _field_info(feature: Feature, strict_labels: bool) -> Any:
    if feature.kind == CATEGORICAL:
        categories = feature.categories or []
        listed = ", ".join(categories[:20]) + (", …" if len(categories) > 20 else "")
        policy = "others are refused (422)" if strict_labels else "others are scored as unknown and flagged"
        text = f"Label seen in training: {listed}; {policy}."
        if feature.missing_share > 0:
            text += " null when unknown (scored as a missing label, as in training)."
        extra = {}
    else:
        low, high = feature.minimum, feature.maximum
        text = "0/1 flag (true/false accepted)." if feature.kind == BOOLEAN else "Finite number."
        if feature.kind != BOOLEAN and low is not None:
            text += f" Training range [{low:g}, {high:g}]; values outside it are scored and flagged."
        extra = {"x-training-minimum": low, "x-training-maximum": high}
    if feature.missing_share > 0 and feature.kind != CATEGORICAL:
        text += " null when unknown (imputed as in training)."
    if feature.derived_from:
        text += f" Derived from '{feature.derived_from}'."
    examples = [feature.example] if feature.example is not None else None
    return Field(..., alias=feature.name, description=text, examples=examples, json_schema_extra=extra)


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
    return annotation, Field(..., alias=name, description=text)


def _check(feature: Feature, strict_labels: bool) -> FeatureCheck:
    if feature.kind == CATEGORICAL:
        categories = feature.categories or []
        known = None if strict_labels else frozenset(categories)
        return FeatureCheck(feature.name, known=known, all_known=len(categories) < MAX_LISTED_CATEGORIES)
    if feature.kind == BOOLEAN:
        return FeatureCheck(feature.name)
    return FeatureCheck(feature.name, feature.minimum, feature.maximum)


def _prediction_model(contract: Contract) -> type[BaseModel]:
    text = "Values scored but outside training; columns ignored."
    warnings = (list[str], Field(default_factory=list, description=text))
    if contract.task == "classification":
        classes = contract.classes or []
        return create_model(
            "Prediction",
            prediction=(str, Field(..., description=f"Most probable class: one of {', '.join(classes)}.")),
            probabilities=(dict[str, float], Field(..., description="Probability of each class.")),
            warnings=warnings,
        )
    low, high = contract.target_range or (None, None)
    span = f" (training targets ranged {low:g} to {high:g})" if low is not None else ""
    return create_model(
        "Prediction",
        prediction=(float, Field(..., description=f"Predicted {contract.target}{span}.")),
        warnings=warnings,
    )
