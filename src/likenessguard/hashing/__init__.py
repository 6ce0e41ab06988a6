"""File hashes (Civitai/AUTOMATIC1111-compatible) and weight fingerprints."""
