"""Stage 5, monitoring: watch the served model after release.

Reads:  the prediction log (serving's table, SQLite or PostgreSQL), data/processed/ (the training
        reference and the contract).
Writes: reports/monitoring/drift.{html,json} and a dated copy under history/; an exit code.

monitor.py   the check `make monitor` runs: read the logged window, compare, decide
drift.py     the column-by-column comparison with the training data (Evidently)
simulate.py  traffic for a running API: held-out rows, or deliberately shifted ones
"""
