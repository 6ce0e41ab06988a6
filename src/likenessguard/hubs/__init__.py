"""Connectors to where models live: local folders, Hugging Face, Civitai."""
