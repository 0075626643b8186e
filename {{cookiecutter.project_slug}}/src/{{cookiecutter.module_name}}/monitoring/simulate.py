"""Send traffic to a running API: rows sampled from data/processed/test.parquet, one request each.

`--drift` moves every number up by DRIFT_STDS training standard deviations and sets every label to
the rarest one seen in training: valid requests, from a population the model was not trained on.
`--labels true` then sends the rows' targets to /feedback; `--labels wrong` a shifted rule (the next
class; the value plus one target standard deviation), the concept drift only live quality sees.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..contract import BOOLEAN, CATEGORICAL, MISSING_CATEGORY, Contract
from ..data.dates import date_with
from ..errors import UserError
from ..project import Project

DRIFT_STDS = 1.5


def sample_records(
    project: Project, contract: Contract, rows: int, *, drift: bool, seed: int
) -> list[dict[str, Any]]:
    """Draw rows (with replacement) from the held-out data as JSON records the API accepts."""
    sample = held_out_sample(project, contract, rows, seed)[contract.feature_names]
    if drift:
        sample = shift(sample, contract, project)
    return [to_record(row, contract) for row in sample.to_dict("records")]


def sample_labels(project: Project, contract: Contract, rows: int, *, seed: int, wrong: bool) -> list[Any]:
    """The true targets of the rows sample_records draws with the same seed (shifted when wrong)."""
    actual = held_out_sample(project, contract, rows, seed)[contract.target]
    if contract.classes:
        classes = contract.classes
        return [classes[(classes.index(str(v)) + wrong) % len(classes)] for v in actual]
    return (actual + wrong * float(actual.std())).astype(float).tolist()


def held_out_sample(project: Project, contract: Contract, rows: int, seed: int) -> Any:
    import pandas as pd

    test = pd.read_parquet(project.processed_dir / "test.parquet")
    required = [f.name for f in contract.features if f.kind != CATEGORICAL and f.missing_share == 0]
    test = test.dropna(subset=required)  # the API refuses null where training had no missing value
    if test.empty:
        raise UserError(f'No complete rows in {project.processed_dir / "test.parquet"} — run "make data".')
    return test.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)


def shift(sample: Any, contract: Contract, project: Project) -> Any:
    """Move numbers up by DRIFT_STDS training standard deviations; set labels to the rarest one."""
    import pandas as pd

    train = pd.read_parquet(project.processed_dir / "train.parquet")
    for feature in contract.features:
        if feature.derived_from:
            continue  # a date's parts stay a date (no month 14): sent as the date, unshifted
        if feature.kind == CATEGORICAL and feature.categories:
            labels = [label for label in feature.categories if label != MISSING_CATEGORY]
            sample[feature.name] = (labels or feature.categories)[-1]
        elif feature.kind == BOOLEAN:
            rarer = float(train[feature.name].astype(float).mean() < 0.5)
            sample[feature.name] = sample[feature.name].where(sample[feature.name].isna(), rarer)
        else:
            sample[feature.name] = sample[feature.name] + DRIFT_STDS * float(train[feature.name].std())
    return sample


def to_record(row: dict[str, Any], contract: Contract) -> dict[str, Any]:
    """One row as JSON values: null for missing, true/false for flags, a date for each date column."""
    record: dict[str, Any] = {}
    for name, news in contract.datetime_columns.items():
        parts = [row[new] for new in news]  # a date with the same features, as the API takes dates
        record[name] = None if any(math.isnan(part) for part in parts) else date_with(*parts)
    for feature in contract.sent_features:
        if feature.derived_from:  # a date's part: sent as the date above
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


def send_records(url: str, records: list[dict[str, Any]], threads: int = 4) -> tuple[Counter[int], list[str]]:
    """POST each record to {url}/predict; return how many answers had each status code, and the
    request ids the API logged them under (in the records' order)."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        answers = list(pool.map(post, [f"{url}/predict"] * len(records), records))
    return Counter(status for status, _, _ in answers), [request_id for _, request_id, _ in answers]


def simulate_traffic(
    project: Project, api: str | int | None, rows: int | None, drift: bool, seed: int, labels: str = "none"
) -> list[str]:
    """Send sampled rows (default: monitoring.window_rows), then their labels ("true" or "wrong"); say what came of it.

    Args:
        api: the API's base URL, or its port on serving.host (default: serving.port).
    """
    from .. import model_files
    from ..serving.runtime import load_contract

    if labels not in ("none", "true", "wrong"):
        raise UserError(f"--labels {labels}: use none, true or wrong (a shifted rule: concept drift).")
    serving, count = project.config.serving, rows or project.config.monitoring.window_rows
    url = api.rstrip("/") if isinstance(api, str) else f"http://{serving.host}:{api or serving.port}"
    contract = load_contract(model_files.read_metadata(project.models_dir))
    records = sample_records(project, contract, count, drift=drift, seed=seed)
    try:
        statuses, request_ids = send_records(url, records)
    except OSError:  # refused or timed out (an HTTP error status is an answer)
        raise UserError(f"No API at {url} — start it first (make serve) or pass the right --port.") from None
    answered = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
    if set(statuses) != {200}:
        raise UserError(f"some requests failed ({answered}) — see the API's log.")
    lines = [f"{count} requests to {url}: {answered}; the API logs them within monitoring.flush_seconds"]
    if labels != "none":
        actual = sample_labels(project, contract, count, seed=seed, wrong=labels == "wrong")
        for _ in range(3):  # the log writes the predictions first; a label sent again replaces itself
            time.sleep(project.config.monitoring.flush_seconds + 0.5)
            totals = send_labels(url, request_ids, actual)
            if not totals["unknown"]:
                break
        lines.append(f"{'shifted' if labels == 'wrong' else 'true'} labels: {totals['stored']} stored, "
                     f"{totals['unknown'] + totals['refused']} not (unknown or refused)")  # fmt: skip
    return lines


def send_labels(url: str, request_ids: list[str], labels: list[Any]) -> Counter[str]:
    """POST the labels to {url}/feedback, 100 a request; add up the answers' counts."""
    sent = [{"request_id": rid, "actual": label} for rid, label in zip(request_ids, labels, strict=True)]
    totals: Counter[str] = Counter()
    for start in range(0, len(sent), 100):
        chunk = sent[start : start + 100]
        status, _, body = post(f"{url}/feedback", chunk)
        answer = json.loads(body) if status == 200 else {"refused": len(chunk)}
        totals.update({key: value for key, value in answer.items() if isinstance(value, int)})
    return totals


def post(url: str, body: Any) -> tuple[int, str, str]:
    """POST JSON; return the status, the X-Request-ID header and the body."""
    data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=30) as response:
            return response.status, response.headers.get("X-Request-ID", ""), response.read().decode()
    except urllib.error.HTTPError as error:  # a 4xx or 5xx answer
        return error.code, "", error.read().decode()
