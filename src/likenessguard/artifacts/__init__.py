"""Readers that understand model files without executing or fully loading them."""
