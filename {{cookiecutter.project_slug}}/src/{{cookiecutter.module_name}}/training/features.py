"""The preprocessing ColumnTransformer, built from the data contract."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..contract import BOOLEAN, CATEGORICAL, NUMERIC, Contract


def build_preprocessor(contract: Contract, max_categories: int) -> ColumnTransformer:
    """Impute and scale numbers and flags; one-hot encode the most frequent labels of each column.

    Labels outside the top `max_categories` (and unseen ones) encode as all zeros. Missing labels
    arrive as the string "missing" (contract.MISSING_CATEGORY), so every step converts to ONNX.
    """
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )
    transformers = []
    if numeric_columns := contract.features_of_kind(NUMERIC, BOOLEAN):
        transformers.append(("numeric", numeric, numeric_columns))
    categorical = [f for f in contract.features if f.kind == CATEGORICAL]
    if categorical:
        encoder = OneHotEncoder(
            categories=[f.categories[:max_categories] for f in categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        transformers.append(("categorical", encoder, [f.name for f in categorical]))
    return ColumnTransformer(
        transformers, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True
    )
