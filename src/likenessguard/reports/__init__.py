"""Renderings of scan records: console tables, JSON, JSONL and SARIF."""
