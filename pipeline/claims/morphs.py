"""The words anchors say instead of the word they mean (morphs, 变体词), read as that word (speech only).

Rooms that sell health products avoid the words a platform's filters look for: diabetics are
小糖人 or 小唐人, immunity is 免某力 or 免毛粒, the eyes are 心灵之窗, a doctor is 白大褂, a
pharmacy is 某药某店. A claim said through a morph is still the claim (TAXONOMY: what a viewer
understands), so before matching, the detector reads each morph of a knowledge list of readings
(``MORPH_READING`` in ``lexicons/knowledge/speech.yaml``, mined from a public dataset of annotated
live-room transcripts) as the word it stands for. Offsets still map back to the text as written:
a claim over 小糖人 read as 糖尿病患者 reports 小糖人, with the reading beside it.

Listing text is never read this way: a listing is written, not spoken around a filter.
"""

from __future__ import annotations

import re

from pipeline.claims.knowledge import trie_pattern
from pipeline.claims.lexicon import Lexicon
from pipeline.claims.normalize import Normalised

READINGS_LIST = "MORPH_READING"


class MorphReadings:
    """Reads the morphs of a lexicon's ``MORPH_READING`` list as the words they stand for."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._readings: dict[str, str] = {}
        for terms in lexicon.knowledge:
            if terms.name == READINGS_LIST:
                self._readings.update(zip(terms.terms, terms.readings, strict=True))
        # longest morph first at each position (the trie tries longer words before their prefixes)
        self._pattern = re.compile(trie_pattern(self._readings)) if self._readings else None

    def __call__(self, normalised: Normalised) -> Normalised:
        if self._pattern is None:
            return normalised
        found = self._pattern.finditer(normalised.text)
        spans = [(m.start(), m.end(), self._readings[m.group()]) for m in found]
        return normalised.replaced(spans) if spans else normalised
