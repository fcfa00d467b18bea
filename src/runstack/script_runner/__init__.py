"""Running an unchanged MLflow script against runstack (``runstack run SCRIPT [args]``)."""
