"""hubs."""
