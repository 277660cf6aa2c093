"""Gated promotion of a registered challenger to champion."""
