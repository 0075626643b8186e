"""Serving: answer prediction requests with the promoted model, and log what was served.

Reads models/model.json and the model file it names (model.onnx or model.skops, digest checked),
and configs/config.yaml (`serving:`, `monitoring:`). Writes the prediction log table and GET /metrics.
- app.py: the FastAPI routes; schemas.py: request and response models built from the data contract;
  http_errors.py: 4xx answers naming the field; runtime.py: ONNX Runtime or skops scoring;
  batching.py: micro-batching for skops; server.py: uvicorn (`serve`); predict_file.py: `predict`.
- prediction_log.py: the queue and writer thread; prediction_table.py: the SQL table; telemetry.py: /metrics.
- feedback.py: POST /feedback's models and the `feedback` table (the true targets of logged predictions).
"""
