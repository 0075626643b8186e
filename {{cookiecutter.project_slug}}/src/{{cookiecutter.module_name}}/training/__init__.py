"""Stage 2, training: fit the dummy baseline and the configured model, and track the run.

Reads:  data/processed/{train,test}.parquet and schema.json (from the data stage), configs/config.yaml.
Writes: models/candidate/ (model.skops, baseline.skops, model.onnx, model.json, manifest.json)
        and one MLflow run (params, CV metrics, dataset, environment, the logged model).
"""
