"""Tests of the review web app."""
