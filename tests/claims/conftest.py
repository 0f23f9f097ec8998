"""Fixtures the claim tests share."""

from __future__ import annotations

import pytest

from pipeline.claims import Detector, load_detector


@pytest.fixture(scope="session")
def detector() -> Detector:
    """The detector of the lexicons this checkout ships (built once: load_detector caches it)."""
    return load_detector()
