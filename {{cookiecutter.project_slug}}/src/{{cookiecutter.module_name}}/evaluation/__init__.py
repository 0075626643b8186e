"""Stage 3, evaluation: judge the candidate on held-out rows and decide whether it is served.

Reads:  models/candidate/ (from training), data/processed/test.parquet, the MLflow registry.
Writes: reports/metrics.json, reports/figures/*.png, reports/model_card.md, the candidate's
        held-out metrics in its model.json; `promote` copies a winner to models/ as `champion`
        and its card, metrics and figures to results/ (committed, linked from the README).

evaluate.py    the stage in order          slices.py, importance.py  metrics per slice, per column
figures.py     draws the figures           model_card.py, risks.py   the card and its limitations
promotion.py   the gate and the registry   reproduce.py              re-run a manifest and compare
"""
