"""Banks of banned (or allowed) models, and the indexes that match against them."""
