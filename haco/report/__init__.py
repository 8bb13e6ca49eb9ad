"""The paper's tables and figures from MLflow alone (never from training code)."""
