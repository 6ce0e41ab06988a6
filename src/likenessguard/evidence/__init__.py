"""Evidence: every piece of text a scanner can see about a model, with where it came from."""
