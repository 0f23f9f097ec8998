"""Word segmentation: jieba tokens inside a blank spaCy Chinese pipeline.

``spacy.blank("zh")`` gets a tokenizer backed by a *private* ``jieba.Tokenizer`` whose user
dictionary holds the lexicon's words, so that

- a lexicon word comes out as one token whenever jieba's dictionary knows no longer word that
  contains it (防脱 in 防脱洗发水), and
- a lexicon word inside a longer ordinary word stays hidden there (第一 in 第一次, 唯一 in 唯一性,
  万能 in 万能胶, 发财 in 发财树), which is what ``words:`` entries rely on.

A private instance keeps our user words out of jieba's global dictionary, which other code in the
same process may use. HMM guessing of unknown words is off: segmentation then depends only on the
dictionaries, which is faster and reproducible.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable
from itertools import pairwise

import jieba
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

# jieba segments each run of these characters on its own (its ``re_han_default``): a Doc of one
# run has the tokens that run would have in a Doc of the whole text
WORD_RUN = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+")
COMMON_WORD_FREQ = 10  # jieba's dictionary lists rare and archaic words with frequencies below this
# A lexicon word counts as a fairly common word: enough to win a close call against a neighbour
# (美白|霜, not 美|白霜), not enough to cost an extra token (生长|高度 stays, no 生|长高|度).
USER_WORD_FREQ = 1000


class JiebaTokenizer:
    """A spaCy tokenizer: jieba's precise mode with the lexicon words in its user dictionary."""

    def __init__(self, vocab: Vocab, user_words: Iterable[str]) -> None:
        self.vocab = vocab
        logging.getLogger("jieba").setLevel(logging.WARNING)  # it logs its cache loading at DEBUG
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for word in sorted(set(user_words)):
            self._jieba.add_word(word, max(self._jieba.suggest_freq(word), USER_WORD_FREQ))
        # jieba's FREQ holds every word and every prefix of one (a prefix alone with frequency 0)
        self.freq: dict[str, int] = self._jieba.FREQ
        self.longest = max(len(w) for w, f in self.freq.items() if f)

    def __call__(self, text: str) -> Doc:
        words = self.words(text)
        return Doc(self.vocab, words=words, spaces=[False] * len(words))

    def words(self, text: str) -> list[str]:
        """jieba's words for ``text``, in order, covering it exactly."""
        return [w for w in self._jieba.cut(text, HMM=False) if w]

    def is_common_word(self, text: str) -> bool:
        """Whether jieba's dictionary knows ``text`` as a word in common use (not 转韵, 保正)."""
        return int(self._jieba.FREQ.get(text, 0)) >= COMMON_WORD_FREQ


class Segmentation:
    """The jieba tokens of one text, cut run by run (between punctuation) on demand, once each."""

    def __init__(self, text: str, tokenizer: JiebaTokenizer) -> None:
        self.text = text
        self._tokenizer = tokenizer
        self._runs = [(m.start(), m.end()) for m in WORD_RUN.finditer(text)]
        self._cuts: dict[int, list[int]] = {}  # run start -> token boundaries (absolute offsets)

    def runs_with(self, positions: Iterable[int]) -> list[tuple[int, int]]:
        """The runs of words that hold one of ``positions``."""
        wanted = set(positions)
        return [(s, e) for s, e in self._runs if any(s <= p < e for p in wanted)]

    def doc(self, run: tuple[int, int]) -> Doc:
        """A spaCy Doc of one run (offsets relative to the run)."""
        cuts = self._boundaries(run)
        words = [self.text[a:b] for a, b in pairwise(cuts)]
        return Doc(self._tokenizer.vocab, words=words, spaces=[False] * len(words))

    def aligned(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` starts and ends at token boundaries (whole words only)."""
        if not self._crossable(start) and not self._crossable(end):
            return True  # no dictionary word spans either offset: jieba must cut there
        run = self._run_at(start)
        if run is None or end > run[1]:
            return True  # not inside words: nothing to cut through
        cuts = self._boundaries(run)
        return start in cuts and end in cuts

    def cuts_through(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` cuts a word: neither whole words nor inside one (生长|高 for 长高)."""
        if self.aligned(start, end):
            return False
        run = self._run_at(start)
        assert run is not None
        cuts = self._boundaries(run)
        i = bisect_right(cuts, start)  # the token holding start ends at cuts[i]
        return end > cuts[i]

    def _crossable(self, position: int) -> bool:
        """Whether some dictionary word (or run of Latin letters and digits) spans ``position``."""
        text, freq = self.text, self._tokenizer.freq
        if not 0 < position < len(text):
            return False
        if text[position - 1].isascii() and text[position].isascii():
            return text[position - 1].isalnum() and text[position].isalnum()
        for start in range(max(0, position - self._tokenizer.longest + 1), position):
            for end in range(position + 1, min(len(text), start + self._tokenizer.longest) + 1):
                count = freq.get(text[start:end])
                if count is None:
                    break  # not even a prefix of a word: nothing longer either
                if count:
                    return True
        return False

    def _run_at(self, position: int) -> tuple[int, int] | None:
        return next(((s, e) for s, e in self._runs if s <= position < e), None)

    def _boundaries(self, run: tuple[int, int]) -> list[int]:
        cuts = self._cuts.get(run[0])
        if cuts is None:
            cuts = [run[0]]
            for word in self._tokenizer.words(self.text[run[0] : run[1]]):
                cuts.append(cuts[-1] + len(word))
            self._cuts[run[0]] = cuts
        return cuts


def chinese_pipeline(user_words: Iterable[str]) -> tuple[Language, JiebaTokenizer]:
    """A blank Chinese spaCy pipeline tokenised by jieba with ``user_words`` added."""
    nlp = spacy.blank("zh")
    tokenizer = JiebaTokenizer(nlp.vocab, user_words)
    nlp.tokenizer = tokenizer
    return nlp, tokenizer
