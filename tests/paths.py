"""Where the tests' data and the checkout are, for test modules at any depth."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
ROOT = TESTS.parent
