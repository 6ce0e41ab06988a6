"""Detectors and policy: real-person likeness, sexual intent, minor risk, and severity."""
