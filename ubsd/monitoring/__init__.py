"""Drift and data-quality monitoring of the nightly outputs."""
