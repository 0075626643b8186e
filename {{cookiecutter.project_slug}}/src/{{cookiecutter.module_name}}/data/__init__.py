"""Stage 1, data: turn the configured source into clean, split, validated tables.

Reads:  the source in configs/config.yaml (a bundled dataset, a CSV file, an SQL table or query).
Writes: data/processed/{train,test}.parquet, data/processed/schema.json (the contract),
        data/quarantine/quarantine.csv (every row set aside, with its reason).

load.py     read the source               columns.py  one column at a time: names, types, dates
clean.py    roles, types, target, quarantine   validate.py the pandera check against the contract
prepare.py  the stage in order, the contract's inference, load_processed() for the stages after it
sql.py      data.source: sql, read in chunks   profile.py  `make profile`: the raw data's quality
derived.py  your derived features: the one function to edit to add one
"""
