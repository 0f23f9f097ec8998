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
MAX_LINE_BYTES = 1 << 20  # the default of the listing_max_line_bytes setting


@contextmanager
def open_text(path: str | Path, mode: str = "r") -> Iterator[IO[str]]:
    """Open a UTF-8 text file (``utf-8-sig`` when reading, so a BOM is dropped); ``-`` is stdio."""
    if str(path) == "-":
        yield sys.stdin if "r" in mode else sys.stdout
        return
    encoding = "utf-8-sig" if "r" in mode else "utf-8"
    with open(path, mode, encoding=encoding, newline="" if "w" in mode else None) as handle:
        yield handle


def read_objects(
    path: str | Path, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """Each non-blank line as ``(line_number, object)``, or ``(line_number, RecordError)``.

    A line longer than ``max_line_bytes`` (the ``listing_max_line_bytes`` setting for listing
    events) is refused without being held in memory whole; so is a line that is not UTF-8.
    """
    source = "<stdin>" if str(path) == "-" else str(path)
    for number, line in _lines(path, max_line_bytes):
        if isinstance(line, RecordError):
            yield number, line.at(source=source, line=number)
            continue
        if line.strip():
            yield number, parse_object(line, source, number)


def parse_object(line: str, source: str, number: int) -> dict[str, Any] | RecordError:
    """One line of JSON Lines as an object, or the RecordError (located) that says why not."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return RecordError(f"not valid JSON ({exc})", source=source, line=number)
    except RecursionError:
        return RecordError("not valid JSON (nested too deeply)", source=source, line=number)
    if not isinstance(obj, dict):
        return RecordError("expected a JSON object", source=source, line=number)
    return obj


def _lines(path: str | Path, max_bytes: int) -> Iterator[tuple[int, str | RecordError]]:
    """Numbered lines as text (a leading BOM dropped), or the error that refuses a line."""
    with _open_binary(path) as handle:
        number = 0
        while chunk := handle.readline(max_bytes + 1):
            number += 1
            if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
                while (rest := handle.readline(1 << 16)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the line
                yield number, RecordError(f"line longer than {max_bytes} bytes (listing_max_line_bytes)")
                continue
            try:
                yield number, chunk.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, RecordError(f"not UTF-8 text ({exc.reason} at byte {exc.start})")


@contextmanager
def _open_binary(path: str | Path) -> Iterator[IO[bytes]]:
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb") as handle:
        yield handle


def read_records(
    path: str | Path, parse: Callable[[dict[str, Any]], T], max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, T | RecordError]]:
    """Each line parsed by ``parse``; a RecordError it raises comes back located."""
    source = "<stdin>" if str(path) == "-" else str(path)
    for number, obj in read_objects(path, max_line_bytes):
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
