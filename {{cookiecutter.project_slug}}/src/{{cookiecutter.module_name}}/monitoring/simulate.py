"""Send traffic to a running API: held-out rows as they are, or deliberately shifted ones.

`make simulate` posts single records sampled from data/processed/test.parquet to /predict, from a
few keep-alive connections, so the prediction log fills as real clients would fill it. With
`--drift` every number is moved up by one and a half training standard deviations and every label
becomes the rarest one seen in training: still valid requests (out-of-range numbers are scored
and flagged), but a population the model was not trained on — which `make monitor` must notice.
With `--labels` the rows' true targets follow to /feedback; `--wrong-labels` sends a shifted rule
instead (the next class; the value plus one target standard deviation), the concept drift that only
live quality can see.
"""

from __future__ import annotations

import http.client
import json
import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from ..contract import BOOLEAN, CATEGORICAL, MISSING_CATEGORY, Contract
from ..data.dates import date_with
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


def sample_labels(project: Project, contract: Contract, rows: int, *, seed: int, wrong: bool) -> list[Any]:
    """The true targets of the rows sample_records draws with the same seed (shifted when wrong)."""
    import pandas as pd

    test = pd.read_parquet(project.processed_dir / "test.parquet")
    required = [f.name for f in contract.features if f.kind != CATEGORICAL and f.missing_share == 0]
    actual = test.dropna(subset=required).sample(n=rows, replace=True, random_state=seed)[contract.target]
    if contract.classes:
        classes = contract.classes
        return [classes[(classes.index(str(v)) + wrong) % len(classes)] for v in actual]
    return (actual + wrong * float(test[contract.target].std())).astype(float).tolist()


def shift(sample: Any, contract: Contract, project: Project) -> Any:
    """Move numbers up by DRIFT_STDS training standard deviations; set labels to the rarest one."""
    import pandas as pd

    train = pd.read_parquet(project.processed_dir / "train.parquet")
    for feature in contract.features:
        if feature.derived_from:
            continue  # a date's parts stay a date (no month 14): sent as the date, unshifted
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
    """One row as JSON values: null for missing, true/false for flags, a date for each date column."""
    record: dict[str, Any] = {}
    derived = {name for names in contract.datetime_columns.values() for name in names}
    for name, news in contract.datetime_columns.items():
        parts = [row[new] for new in news]  # a date with the same features, as the API takes dates
        record[name] = None if any(math.isnan(part) for part in parts) else date_with(*parts)
    for feature in contract.sent_features:
        if feature.name in derived:
            continue
        value = row[feature.name]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if feature.kind == CATEGORICAL:
            record[feature.name] = None if missing or value == MISSING_CATEGORY else str(value)
        elif feature.kind == BOOLEAN:
            record[feature.name] = None if missing else bool(value)
        else:
            record[feature.name] = None if missing else float(value)
    return record


def send_records(
    url: str, records: list[dict[str, Any]], connections: int = 4
) -> tuple[Counter[int], list[str]]:
    """POST each record to {url}/predict; return how many answers had each status code, and the
    request ids the API logged them under (in the records' order; "" where a request failed)."""
    host, port = api_address(url)
    request_ids = [""] * len(records)

    def post_share(offset: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        connection = http.client.HTTPConnection(host, port, timeout=30)
        for index in range(offset, len(records), connections):
            status, request_ids[index] = post(connection, "/predict", records[index])
            statuses[status] += 1
        connection.close()
        return statuses

    with ThreadPoolExecutor(max_workers=connections) as pool:
        return sum(pool.map(post_share, range(connections)), Counter()), request_ids


def simulate_traffic(
    project: Project, api: str | int | None, rows: int | None, drift: bool, seed: int, labels: str = "none"
) -> list[str]:
    """Send sampled rows (default: monitoring.window_rows), then their labels ("true" or "wrong"); say what came of it.

    Args:
        api: the API's base URL, or its port on serving.host (default: serving.port).
    """
    serving = project.config.serving
    url = api if isinstance(api, str) else f"http://{serving.host}:{api or serving.port}"
    from .. import model_files
    from ..serving.runtime import load_contract

    if labels not in ("none", "true", "wrong"):
        raise UserError(f"--labels {labels}: use none, true or wrong (a shifted rule: concept drift).")

    count = rows or project.config.monitoring.window_rows
    contract = load_contract(model_files.read_metadata(project.models_dir))
    statuses, request_ids = send_records(
        url, sample_records(project, contract, count, drift=drift, seed=seed)
    )
    answered = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
    if set(statuses) != {200}:
        raise UserError(f"some requests failed ({answered}) — see the API's log.")
    lines = [f"{count} requests to {url}: {answered}; the API logs them within monitoring.flush_seconds"]
    if labels != "none":
        wrong = labels == "wrong"
        actual = sample_labels(project, contract, count, seed=seed, wrong=wrong)
        for _ in range(3):  # the log writes the predictions first; a label sent again replaces itself
            time.sleep(project.config.monitoring.flush_seconds + 0.5)
            totals = send_labels(url, request_ids, actual)
            if not totals["unknown"]:
                break
        lines.append(f"{'shifted' if wrong else 'true'} labels: {totals['stored']} stored, "
                     f"{totals['unknown'] + totals['refused']} not (unknown or refused)")  # fmt: skip
    return lines


def send_labels(url: str, request_ids: list[str], labels: list[Any]) -> Counter[str]:
    """POST the labels of the answered requests to {url}/feedback, 100 a request; add up the answers."""
    host, port = api_address(url)
    sent = [
        {"request_id": rid, "actual": label} for rid, label in zip(request_ids, labels, strict=True) if rid
    ]
    totals: Counter[str] = Counter()
    connection = http.client.HTTPConnection(host, port, timeout=30)
    for start in range(0, len(sent), 100):
        status, body = post(connection, "/feedback", sent[start : start + 100], read=True)
        answer = json.loads(body) if status == 200 else {"refused": len(sent[start : start + 100])}
        totals.update({key: value for key, value in answer.items() if isinstance(value, int)})
    connection.close()
    return totals


def api_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        http.client.HTTPConnection(host, port, timeout=5).connect()
    except OSError:
        raise UserError(f"No API at {url} — start it first (make serve) or pass the right --port.") from None
    return host, port


def post(connection: http.client.HTTPConnection, path: str, body: Any, read: bool = False) -> tuple[int, str]:
    """POST JSON; return the status and the X-Request-ID header (or, with read, the body)."""
    connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    return response.status, text if read else response.getheader("X-Request-ID", "")
