"""Executors run scan work locally (threads, processes) or on a Dask cluster."""
