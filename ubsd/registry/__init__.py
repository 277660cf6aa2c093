"""MLflow: logging, the pyfunc model, the registry and its aliases."""
