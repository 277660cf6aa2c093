"""Docs stay in step with the code they describe."""

from __future__ import annotations

from pathlib import Path

from ubsd.config import reference_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_configuration_reference_is_current():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert reference_markdown() in text, "regenerate with: python -m ubsd.config"


def test_every_config_key_has_a_description():
    missing = [line for line in reference_markdown().splitlines() if line.endswith("|  |")]
    assert not missing
