"""Reading and writing JSON Lines files: UTF-8 (a BOM tolerated), ``-`` for stdin/stdout.

Readers never stop at a bad line: they yield a :class:`RecordError` located at the file and line,
so a caller can report it and go on with the rest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from pipeline.errors import RecordError

T = TypeVar("T")


@contextmanager
def open_text(path: str | Path, mode: str = "r") -> Iterator[IO[str]]:
    """Open a UTF-8 text file (``utf-8-sig`` when reading, so a BOM is dropped); ``-`` is stdio."""
    if str(path) == "-":
        yield sys.stdin if "r" in mode else sys.stdout
        return
    encoding = "utf-8-sig" if "r" in mode else "utf-8"
    with open(path, mode, encoding=encoding, newline="" if "w" in mode else None) as handle:
        yield handle


def read_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """Each non-blank line as ``(line_number, object)``, or ``(line_number, RecordError)``."""
    source = "<stdin>" if str(path) == "-" else str(path)
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                yield number, RecordError(f"not valid JSON ({exc})", source=source, line=number)
                continue
            if not isinstance(obj, dict):
                yield number, RecordError("expected a JSON object", source=source, line=number)
                continue
            yield number, obj


def read_records(
    path: str | Path, parse: Callable[[dict[str, Any]], T]
) -> Iterator[tuple[int, T | RecordError]]:
    """Each line parsed by ``parse``; a RecordError it raises comes back located."""
    source = "<stdin>" if str(path) == "-" else str(path)
    for number, obj in read_objects(path):
        if isinstance(obj, RecordError):
            yield number, obj
            continue
        try:
            yield number, parse(obj)
        except RecordError as exc:
            yield number, exc.at(source=source, line=number)


def write_objects(path: str | Path, objects: Iterable[dict[str, Any]]) -> int:
    """Write one compact JSON object per line; returns how many were written."""
    count = 0
    with open_text(path, "w") as handle:
        for obj in objects:
            handle.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        handle.flush()
    return count
