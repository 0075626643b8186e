"""The data stage's fixtures: the throwaway PostgreSQL server the prediction-log tests start."""

from ..serving.test_prediction_log import postgres_url  # noqa: F401
