-- compose.yaml: PostgreSQL runs this once, on an empty volume. MLflow has the database `mlflow`;
-- the API's prediction log gets its own.
CREATE DATABASE predictions;
