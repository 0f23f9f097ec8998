"""Finding the ledger row a listing sells (DESIGN.md §3.3): by product_id, else by brand + title.

A platform card linked to the ledger names its row by ``product_id``. An unlinked card is matched on
its brand and title: the brand must be the row's brand (after normalisation; a shop name that
contains it, such as ``水润坊官方旗舰店``, counts), and the title must be close enough to the row's
product name. Closeness is :func:`title_score`: how much of the ledger name's character bigrams
and characters the listing title contains. Listing titles add marketing words, specs and variants
to the reviewed name and shuffle its words, so the score looks at the ledger name's side only; a
different product of the same brand misses the characters that name it (眼霜 for 面霜, 酒 for 茶).

The threshold :data:`MATCH_THRESHOLD` was measured on the near-miss cases in
``tests/data/ledger_match/`` with ``bench/ledger_match.py`` (see docs/ledger.md): reworded titles of
the same product on one side, other products of the same brand on the other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from pipeline.records import LedgerEntry

MATCH_THRESHOLD = 0.65
"""Lowest title score accepted as the same product (measured, see the module docstring)."""

_UNITS = (("毫升", "ml"), ("千克", "kg"), ("毫安时", "mah"), ("毫安", "mah"), ("克", "g"))
# Names of one product type that titles use interchangeably, folded to one (longest first). Only
# true synonyms: at the character level 洁面乳 for 洗面奶 looks exactly like 眼霜 for 面霜.
_SYNONYMS = (
    ("洁面乳", "洗面奶"),
    ("洁面奶", "洗面奶"),
    ("洗面乳", "洗面奶"),
    ("洁面膏", "洗面奶"),
    ("洗颜奶", "洗面奶"),
    ("移动电源", "充电宝"),
)
_TOKEN = re.compile(r"[a-z0-9.]+|[^\W\d_a-z]", re.UNICODE)


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    for word, symbol in (*_SYNONYMS, *_UNITS):
        folded = folded.replace(word, symbol)
    return folded


@lru_cache(maxsize=16384)
def units(text: str) -> tuple[str, ...]:
    """A text as units: NFKC, case-folded, synonyms of a product type as one (洁面乳→洗面奶), Chinese
    unit words as symbols (克→g, 毫安→mah), then
    each CJK character and each run of ASCII letters/digits; spaces and punctuation dropped.
    Cached: ledger names and brands are scored again for every listing."""
    return tuple(u.strip(".") or u for u in _TOKEN.findall(_fold(text)))


@lru_cache(maxsize=16384)
def normalise(text: str) -> str:
    """The units of a text joined: the form brands are compared in."""
    return "".join(units(text))


def _bigrams(seq: tuple[str, ...]) -> set[tuple[str, str]]:
    return set(pairwise(seq))


def title_score(listing_title: str, ledger_name: str, brand: str = "") -> float:
    """How much of the ledger product name the listing title contains, in [0, 1].

    The mean of the share of the name's unit bigrams and the share of its units found in the
    title, the brand removed from both first; halved when the title swaps one of the name's
    Latin/number tokens (sizes, capacities, models: 50g, 20000mah, d3, 65w) for another.
    """
    name = _units_without(ledger_name, brand)
    title = _units_without(listing_title, brand)
    if not name or not title:
        return 0.0
    name_bi = _bigrams(name)
    bi = len(name_bi & _bigrams(title)) / len(name_bi) if name_bi else float(name == title)
    uni = len(set(name) & set(title)) / len(set(name))
    return (bi + uni) / 2 * (0.5 if _swaps_token(title, name) else 1.0)


def _swaps_token(title: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """The name has a Latin/number token the title lacks, and the title one the name lacks."""
    latin_title = {u for u in title if u.isascii()}
    latin_name = {u for u in name if u.isascii()}
    return bool(latin_name - latin_title) and bool(latin_title - latin_name)


@lru_cache(maxsize=16384)
def _units_without(text: str, brand: str) -> tuple[str, ...]:
    """The units of a text with the brand taken out."""
    key = _fold(brand).strip()
    return units(_fold(text).replace(key, " ") if key else text)


def brand_matches(listing_brand: str, listing_title: str, ledger_brand: str) -> bool:
    """Same brand after normalisation; a shop name containing the brand counts; with no brand on
    the card, the ledger brand must appear in the title."""
    row = normalise(ledger_brand)
    if not row:
        return False
    card = normalise(listing_brand)
    if not card:
        return row in normalise(listing_title)
    return card == row or row in card


@dataclass(frozen=True, slots=True)
class Match:
    """The ledger row a listing was matched to, how, and how closely."""

    entry: LedgerEntry
    by: str  # "product_id" or "title"
    score: float = 1.0


@dataclass(slots=True)
class LedgerIndex:
    """The current ledger rows of each MCN, by product_id; matches listings to them."""

    threshold: float = MATCH_THRESHOLD
    by_mcn: dict[str, dict[str, LedgerEntry]] = field(default_factory=dict)

    def put(self, entry: LedgerEntry) -> None:
        """Add or replace a row (a newer import of the same product replaces it)."""
        self.by_mcn.setdefault(entry.mcn_id, {})[entry.product_id] = entry

    def put_all(self, entries: Iterable[LedgerEntry]) -> None:
        for entry in entries:
            self.put(entry)

    def remove(self, mcn_id: str, product_id: str) -> None:
        self.by_mcn.get(mcn_id, {}).pop(product_id, None)

    def get(self, mcn_id: str, product_id: str) -> LedgerEntry | None:
        return self.by_mcn.get(mcn_id, {}).get(product_id)

    def of_mcn(self, mcn_id: str) -> Iterator[LedgerEntry]:
        return iter(self.by_mcn.get(mcn_id, {}).values())

    def match(self, mcn_id: str, product_id: str | None, brand: str, title: str) -> Match | None:
        """The row a listing sells: by product_id when given (and only by it), else by brand + title."""
        if product_id:
            entry = self.get(mcn_id, product_id)
            return Match(entry, "product_id") if entry else None
        return self.match_title(mcn_id, brand, title)

    def match_title(self, mcn_id: str, brand: str, title: str) -> Match | None:
        """The best-scoring row of the MCN with the same brand, if it reaches the threshold."""
        best: Match | None = None
        for entry in self.of_mcn(mcn_id):
            if not brand_matches(brand, title, entry.brand):
                continue
            score = title_score(title, entry.product_name, entry.brand)
            if score >= self.threshold and (best is None or score > best.score):
                best = Match(entry, "title", score)
        return best
