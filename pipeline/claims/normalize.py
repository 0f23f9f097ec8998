"""Text normalisation with an offset map back to the original text.

The detector matches on a normalised copy of the text and reports offsets into the original, so
every step either maps one character to one character or records which original characters a
rewritten piece came from:

1. one character to one: Traditional → Simplified (the single-character table of OpenCC's
   ``t2s`` conversion), full-width → half-width, ideographic space → space, ASCII upper → lower;
2. rewrites of variable length: 百分之百 / 百分之一百 / 百分百 → ``100%``, 百分之九十九 → ``99%``,
   ``NO.1`` / ``No 1`` / ``no1`` → ``no.1``, ``TOP 1`` → ``top1``, 第1 → 第一, ``100 %`` → ``100%``;
   for transcripts, spaces between Chinese characters are dropped (some recognisers put them
   between words: 这个 不是 美白); in listings they separate phrases and stay.

Every character of a rewrite maps back to the whole original piece it replaced, so a match that
covers any part of ``100%`` reports the whole 百分百.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_REWRITE_PATTERN = (
    r"百分之(?:一)?百|百分百"
    r"|百分之(?P<cn>[零〇一二两三四五六七八九十]{1,3})(?![百千万])(?:点(?P<frac>[零〇一二两三四五六七八九]{1,2}))?"
    r"|(?<![a-z0-9])no\s*[.:]?\s*1(?![0-9])"
    r"|(?<![a-z0-9])top\s*\.?\s*1(?![0-9])"
    r"|第1(?![0-9])"
    r"|(?<=[0-9])\s+%"
)
_REWRITES = re.compile(_REWRITE_PATTERN)
# spaces between Chinese characters, which some recognisers put between words (这个 不是 美白)
_REWRITES_JOINING = re.compile(_REWRITE_PATTERN + r"|(?P<gap>(?<=[\u3400-\u9fff])[ \t]+(?=[\u3400-\u9fff]))")
# a character every rewrite above contains (百, no, top, 第, %; a space or tab for a gap): most texts
# have none, and looking for these is much cheaper than trying the rewrites at every position
_CUES = re.compile(r"[百nt第%]")
_CUES_JOINING = re.compile(r"[百nt第% \t]")


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised text and, per normalised character, the original span it came from."""

    text: str
    original: str
    starts: tuple[int, ...] | None = None  # None: character i came from original character i
    ends: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` of the normalised ``[start, end)`` (``end > start``)."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]

    def without(self, dropped: Iterable[int]) -> Normalised:
        """The same text with the characters at ``dropped`` (normalised offsets) left out, its
        offsets still mapping back to the original (a match over 关某节 read as 关节 reports 关某节)."""
        gone = set(dropped)
        if not gone:
            return self
        kept = [i for i in range(len(self.text)) if i not in gone]
        starts = self.starts if self.starts is not None else range(len(self.text))
        ends = self.ends if self.ends is not None else range(1, len(self.text) + 1)
        return Normalised(
            "".join(self.text[i] for i in kept),
            self.original,
            tuple(starts[i] for i in kept),
            tuple(ends[i] for i in kept),
        )

    def replaced(self, spans: Iterable[tuple[int, int, str]]) -> Normalised:
        """The same text with each ``[start, end)`` (normalised offsets, in order, not overlapping)
        read as the string given with it; every character of a reading maps back to the whole
        span it replaces (a match over 小糖人 read as 糖尿病患者 reports 小糖人)."""
        starts = self.starts if self.starts is not None else range(len(self.text))
        ends = self.ends if self.ends is not None else range(1, len(self.text) + 1)
        text: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        last = 0
        for start, end, reading in spans:
            text.append(self.text[last:start])
            new_starts.extend(starts[last:start])
            new_ends.extend(ends[last:start])
            text.append(reading)
            new_starts.extend([starts[start]] * len(reading))
            new_ends.extend([ends[end - 1]] * len(reading))
            last = end
        if last == 0:
            return self
        text.append(self.text[last:])
        new_starts.extend(starts[last:])
        new_ends.extend(ends[last:])
        return Normalised("".join(text), self.original, tuple(new_starts), tuple(new_ends))


class Normaliser:
    """Normalises texts; build once (the Traditional → Simplified table takes ~0.1 s)."""

    def __init__(self) -> None:
        table = _translation_table()
        # str.translate looks every character up in the table; a list indexed by code point is
        # quicker to look in than a dict. Characters past its end raise IndexError, a LookupError,
        # which leaves them as they are, as a missing dict key does.
        self._table: list[int | str] = [table.get(code, code) for code in range(max(table) + 1)]

    def __call__(self, text: str, *, join_words: bool = False) -> Normalised:
        """Normalise ``text``; ``join_words`` also drops spaces between Chinese characters."""
        translated = text.translate(self._table)
        rewrites, cues = (_REWRITES_JOINING, _CUES_JOINING) if join_words else (_REWRITES, _CUES)
        if cues.search(translated) is None or rewrites.search(translated) is None:
            return Normalised(translated, text)
        return _rewrite(rewrites, translated, text)

    def text(self, text: str) -> str:
        """Just the normalised text (for lexicon terms)."""
        return self(text).text


def _translation_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII
        table[code] = chr(code - 0xFEE0).lower()
    table[0x3000] = " "
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = chr(code).lower()
    table.update(_traditional_to_simplified())
    return table


def _traditional_to_simplified() -> dict[int, str]:
    from opencc import OpenCC  # imported here: only the table is needed, once

    converter = OpenCC("t2s")
    table: dict[int, str] = {}
    for first, last in _CJK_RANGES:
        for code in range(first, last + 1):
            char = chr(code)
            simplified = converter.convert(char)
            if simplified != char and len(simplified) == 1:
                table[code] = simplified
    return table


def _rewrite(rewrites: re.Pattern[str], translated: str, original: str) -> Normalised:
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for match in rewrites.finditer(translated):
        kept = translated[position : match.start()]
        pieces.append(kept)
        starts.extend(range(position, match.start()))
        ends.extend(range(position + 1, match.start() + 1))
        replacement = _replacement(match)
        pieces.append(replacement)
        starts.extend([match.start()] * len(replacement))
        ends.extend([match.end()] * len(replacement))
        position = match.end()
    pieces.append(translated[position:])
    starts.extend(range(position, len(translated)))
    ends.extend(range(position + 1, len(translated) + 1))
    return Normalised("".join(pieces), original, tuple(starts), tuple(ends))


_CANONICAL = (("百分", "100%"), ("no", "no.1"), ("top", "top1"), ("第", "第一"))


def _replacement(match: re.Match[str]) -> str:
    text = match.group(0)
    if match.groupdict().get("gap"):
        return ""
    if match.group("cn"):
        number = _chinese_number(match.group("cn"))
        if number is None:
            return text
        frac = "".join(str(_CN_DIGITS[c]) for c in match.group("frac") or "")
        return f"{number}.{frac}%" if frac else f"{number}%"
    return next((canonical for prefix, canonical in _CANONICAL if text.startswith(prefix)), "%")


def _chinese_number(text: str) -> int | None:
    """Chinese numerals up to 99 (一, 十, 十五, 五十, 九十九), and up to 100 read digit by digit as
    speech says them (九九, 一零零); None for anything else."""
    if "十" not in text:
        if len(text) == 1:
            return _CN_DIGITS.get(text)
        if text[0] not in "零〇" and all(c in _CN_DIGITS and c != "两" for c in text):
            number = int("".join(str(_CN_DIGITS[c]) for c in text))
            return number if number <= 100 else None
        return None
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return None
    high = _CN_DIGITS.get(tens, -1) if tens else 1
    low = _CN_DIGITS.get(units, -1) if units else 0
    return high * 10 + low if high > 0 and low >= 0 else None
