"""Orchestration: turns hub files into scan records, on one machine or a cluster."""
