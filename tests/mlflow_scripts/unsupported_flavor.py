"""A script that reaches a part of MLflow runstack does not provide (a model flavor)."""

import mlflow

with mlflow.start_run():
    mlflow.log_param("n_estimators", 10)
    mlflow.sklearn.log_model(object(), "model")
