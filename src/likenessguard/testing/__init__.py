"""Fixture factory: synthetic model files, hubs and catalogs for tests and the demo.

Everything here is drawn in code from random tensors; nothing is downloaded.
"""
