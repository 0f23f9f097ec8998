"""Byte ranges of an in-memory response (RFC 9110 §14): what lets a browser's player seek in a clip.

A browser seeks an ``<audio>`` only in what it can fetch by range; a clip served whole without
``Accept-Ranges`` plays from its start only (its ``seekable`` is empty until all of it is loaded).
One range per request (what media players ask for); several, or one past the end, are refused
with 416 as the RFC allows.
"""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end]`` (inclusive) a ``Range`` header asks of ``size`` bytes; None for no or
    an unreadable header (the whole body is sent). ValueError when it cannot be satisfied."""
    if not header:
        return None
    found = _RANGE.match(header.strip())
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise ValueError(f"range {header!r} of {size} bytes is empty")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError(f"range {header!r} is outside {size} bytes")
    return start, end


def ranged_response(request: Request, data: bytes, media_type: str) -> Response:
    """``data`` whole (200) or the range the request asks for (206), saying ranges are accepted."""
    size = len(data)
    headers = {"accept-ranges": "bytes"}
    try:
        wanted = byte_range(request.headers.get("range"), size)
    except ValueError:
        return Response(status_code=416, headers={**headers, "content-range": f"bytes */{size}"})
    if wanted is None:
        return Response(data, media_type=media_type, headers=headers)
    start, end = wanted
    headers["content-range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)
