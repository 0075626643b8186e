"""Stage 5, monitoring: watch the served model after release.

Reads:  the prediction log and its labels (serving's tables, SQLite or PostgreSQL), data/processed/
        (the training reference and the contract), models/model.json (the held-out metrics).
Writes: reports/monitoring/drift.{html,json}, dated copies in history/, trend.png; an exit code, an alert.

monitor.py   the check `make monitor` runs: read the logged window, compare, decide
drift.py     the column-by-column comparison with the training data (Evidently)
history.py   drift.json, its dated copies and the trend figure drawn from them
quality.py   live quality: the labelled predictions scored against the held-out figures
alerts.py    the verdict atop drift.html, and the webhook message when a check fails
labels.py    `make feedback`: labels from a CSV
retrain.py   `make retrain`: the labelled predictions added to the data, then the pipeline
simulate.py  traffic for a running API: held-out rows, or deliberately shifted ones (and their labels)
"""
