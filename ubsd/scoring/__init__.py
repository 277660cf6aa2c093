"""Nightly scoring: champion model inference across executors, labels table with reasons."""
