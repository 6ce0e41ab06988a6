"""pipeline/executors."""
