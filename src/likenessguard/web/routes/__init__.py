"""Routers of the review app: public pages, reviewer pages, and the JSON API."""
