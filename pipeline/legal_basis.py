"""Legal bases as the lexicons write them: the law cited in Chinese, and where useful in English
as well, the parts split by ``;`` or ``；`` (``《广告法》第三十四条（…）; Advertising Law art. 34 (…)``).

A Chinese citation is required of every legal basis a lexicon holds (the loaders check it with
:func:`require_chinese`): it is the one that counts before a Chinese regulator. A reader sees the
parts of their language (:func:`in_language`); a violation citing two laws joins their texts with
``; ``, which keeps each language's parts together.
"""

from __future__ import annotations

import re
from typing import Literal

from pipeline.errors import LexiconError

_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPLIT = re.compile(r"[;；]\s*")


def parts(text: str) -> list[str]:
    """The citations of a legal basis, in order."""
    return [p.strip() for p in _SPLIT.split(text) if p.strip()]


def is_chinese(part: str) -> bool:
    return bool(_CJK.search(part))


def in_language(text: str | None, language: Literal["zh", "en"]) -> str:
    """The parts of a legal basis written in ``language`` when it holds parts in both (a Chinese
    citation and its English translation); the whole text otherwise."""
    if not text:
        return ""
    found = parts(text)
    mine = [p for p in found if is_chinese(p) == (language == "zh")]
    if not mine or len(mine) == len(found):
        return text
    return ("；" if language == "zh" else "; ").join(mine)


MISSING_CHINESE = (
    "legal_basis must cite the law in Chinese (e.g. 《广告法》第九条第（三）项); an English "
    "translation after it, split by '; ', is optional"
)


def has_chinese(text: str) -> bool:
    """Whether a legal basis holds a citation in Chinese."""
    return any(is_chinese(p) for p in parts(text))


def require_chinese(text: str, where: str) -> str:
    """``text`` if it cites the law in Chinese; a :class:`LexiconError` naming ``where`` if not."""
    if not has_chinese(text):
        raise LexiconError(f"{where}: {MISSING_CHINESE}; got {text[:80]!r}")
    return text
