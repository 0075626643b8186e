"""`make feedback INPUT=labels.csv`: true targets from a file, checked and stored as POST /feedback does."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..project import Project
from ..serving.feedback import FeedbackStore, build_label_models
from .monitor import read_contract

COLUMNS = ("request_id", "row_index", "actual")
CHUNK_ROWS = 1000  # labels per transaction (and per IN list)
UNKNOWN = "no logged prediction with this request_id and row_index"


def store_label_file(project: Project, path: Path) -> list[str]:
    """Store the file's valid labels of logged predictions; write the others, with a reason, beside it;
    return what `feedback` prints."""
    import pandas as pd
    from pydantic import ValidationError

    if not path.is_file():
        raise UserError(
            f"No label file at {path} — give a CSV with the columns request_id, actual (and row_index)."
        )
    frame = pd.read_csv(path, dtype={"request_id": str})
    if missing := {"request_id", "actual"} - set(frame.columns):
        raise UserError(
            f"{path} has no column {', '.join(sorted(missing))} — it needs request_id and actual."
        )
    label_model, _ = build_label_models(read_contract(project), max_rows=1)
    labels, refused = [], []
    for row in frame.to_dict("records"):
        fields = {key: row[key] for key in COLUMNS if key in row and not pd.isna(row[key])}
        try:
            labels.append(label_model.model_validate(fields))
        except ValidationError as exc:
            error = exc.errors()[0]
            refused.append({**row, "reason": f"{'.'.join(map(str, error['loc']))}: {error['msg']}"})
    store, stored = FeedbackStore(project.prediction_log_url), 0
    try:
        for start in range(0, len(labels), CHUNK_ROWS):
            chunk = labels[start : start + CHUNK_ROWS]
            written, unknown = store.add(chunk)
            stored, missing = stored + written, set(unknown)
            refused += [{**label.model_dump(), "reason": UNKNOWN} for label in chunk
                        if (label.request_id, label.row_index) in missing]  # fmt: skip
    finally:
        store.dispose()
    if not refused:
        return [f"{stored} labels stored"]
    out = path.with_name(f"{path.stem}_refused.csv")
    pd.DataFrame(refused).to_csv(out, index=False)
    return [
        f"{stored} labels stored",
        f"[yellow]{len(refused)} refused[/yellow] (invalid, or no logged prediction): {out} says why",
    ]
