"""Reusable test helpers (no fixtures: those stay in the conftest.py files and call into here)."""
