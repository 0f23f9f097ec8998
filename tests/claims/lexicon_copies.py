"""Lexicon directories copied for a test and edited in place, to see how loading fails or changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.config import LEXICON_DIR


def copied_lexicons(tmp_path: Path) -> Path:
    """A copy of the shipped lexicons (with their knowledge files) under ``tmp_path``."""
    copy = tmp_path / "lexicons"
    shutil.copytree(LEXICON_DIR, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in the file by ``new``; the file must hold ``old``."""
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
