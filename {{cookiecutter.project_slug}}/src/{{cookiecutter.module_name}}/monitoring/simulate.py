"""Send traffic to a running API: held-out rows as they are, or deliberately shifted ones.

`make simulate` posts single records sampled from data/processed/test.parquet to /predict, from a
few keep-alive connections, so the prediction log fills as real clients would fill it. With
`--drift` every number is moved up by one and a half training standard deviations and every label
becomes the rarest one seen in training: still valid requests (out-of-range numbers are scored
and flagged), but a population the model was not trained on — which `make monitor` must notice.
"""

from __future__ import annotations

import http.client
import json
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from ..contract import BOOLEAN, CATEGORICAL, MISSING_CATEGORY, Contract
from ..errors import UserError
from ..project import Project

DRIFT_STDS = 1.5


def sample_records(
    project: Project, contract: Contract, rows: int, *, drift: bool, seed: int
) -> list[dict[str, Any]]:
    """Draw rows (with replacement) from the held-out data as JSON records the API accepts."""
    import pandas as pd

    test = pd.read_parquet(project.processed_dir / "test.parquet")[contract.feature_names]
    required = [f.name for f in contract.features if f.kind != CATEGORICAL and f.missing_share == 0]
    test = test.dropna(subset=required)  # the API refuses null where training had no missing value
    if test.empty:
        raise UserError(f'No complete rows in {project.processed_dir / "test.parquet"} — run "make data".')
    sample = test.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    if drift:
        sample = shift(sample, contract, project)
    return [to_record(row, contract) for row in sample.to_dict("records")]


def shift(sample: Any, contract: Contract, project: Project) -> Any:
    """Move numbers up by DRIFT_STDS training standard deviations; set labels to the rarest one."""
    import pandas as pd

    train = pd.read_parquet(project.processed_dir / "train.parquet")
    for feature in contract.features:
        if feature.kind == CATEGORICAL and feature.categories:
            rarest = [
                label for label in feature.categories if label != MISSING_CATEGORY
            ] or feature.categories
            sample[feature.name] = rarest[-1]
        elif feature.kind == BOOLEAN:
            rarer = float(train[feature.name].astype(float).mean() < 0.5)
            sample[feature.name] = sample[feature.name].where(sample[feature.name].isna(), rarer)
        else:
            sample[feature.name] = sample[feature.name] + DRIFT_STDS * float(train[feature.name].std())
    return sample


def to_record(row: dict[str, Any], contract: Contract) -> dict[str, Any]:
    """One row as JSON values: null for missing, true/false for flags."""
    record: dict[str, Any] = {}
    for feature in contract.features:
        value = row[feature.name]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if feature.kind == CATEGORICAL:
            record[feature.name] = None if missing or value == MISSING_CATEGORY else str(value)
        elif feature.kind == BOOLEAN:
            record[feature.name] = None if missing else bool(value)
        else:
            record[feature.name] = None if missing else float(value)
    return record


def send_records(url: str, records: list[dict[str, Any]], connections: int = 4) -> Counter[int]:
    """POST each record to {url}/predict; return how many answers had each status code."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        http.client.HTTPConnection(host, port, timeout=5).connect()
    except OSError:
        raise UserError(f"No API at {url} — start it first (make serve) or pass the right --port.") from None

    def post_share(offset: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        connection = http.client.HTTPConnection(host, port, timeout=30)
        headers = {"Content-Type": "application/json"}
        for record in records[offset::connections]:
            connection.request("POST", "/predict", body=json.dumps(record), headers=headers)
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
        connection.close()
        return statuses

    with ThreadPoolExecutor(max_workers=connections) as pool:
        return sum(pool.map(post_share, range(connections)), Counter())
