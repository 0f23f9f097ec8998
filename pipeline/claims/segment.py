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
from math import log

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
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


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

    def cuts(self, run: str) -> list[int]:
        """The token boundaries jieba puts in one run of :data:`WORD_RUN` characters (0 … len(run)).

        The same as the running sums of ``words(run)``, computed here because ``jieba.cut`` is the
        dearest step of matching: jieba cuts each run of these characters on its own with its
        precise mode (``__cut_DAG_NO_HMM``), which this repeats step for step on the same
        dictionary: the best route by the same floating-point sums, ties going to the longer word
        as in ``max`` over ``(probability, end)``, and single Latin letters or digits joined into
        one word. tests/claims/test_claims_segment.py checks it against ``words``.
        """
        get, size = self.freq.get, len(run)
        log_total = log(self._jieba.total)
        single = log(1) - log_total  # a character no dictionary word starts with (FREQ.get(...) or 1)
        best = [0.0] * (size + 1)  # log probability of the best route from each position
        route = [0] * size  # the last character of the first word of that route
        for k in range(size - 1, -1, -1):
            end, chosen, score = k, -1, 0.0
            count = get(run[k])
            while count is not None:  # get_DAG: every word starting at k, while a prefix of one
                if count:
                    value = log(count) - log_total + best[end + 1]
                    if chosen < 0 or value >= score:
                        chosen, score = end, value
                end += 1
                if end == size:
                    break
                count = get(run[k : end + 1])
            if chosen < 0:
                chosen, score = k, single + best[k + 1]
            best[k], route[k] = score, chosen
        cuts = [0]
        x, joining = 0, False
        while x < size:
            y = route[x] + 1
            # jieba joins consecutive one-character words of ASCII letters or digits (its re_eng)
            single = y - x == 1 and run[x] in _ASCII_ALNUM
            if single and joining:
                cuts[-1] = y
            else:
                cuts.append(y)
            x, joining = y, single
        return cuts

    def is_common_word(self, text: str) -> bool:
        """Whether jieba's dictionary knows ``text`` as a word in common use (not 转韵, 保正)."""
        return int(self._jieba.FREQ.get(text, 0)) >= COMMON_WORD_FREQ


class Segmentation:
    """The jieba tokens of one text, cut run by run (between punctuation) on demand, once each."""

    def __init__(self, text: str, tokenizer: JiebaTokenizer) -> None:
        self.text = text
        self._tokenizer = tokenizer
        self._found_runs: list[tuple[int, int]] | None = None  # see _runs
        self._cuts: dict[int, list[int]] = {}  # run start -> token boundaries (absolute offsets)
        self._crossed: dict[int, bool] = {}  # position -> whether a dictionary word spans it

    @property
    def _runs(self) -> list[tuple[int, int]]:
        """The runs of words (start, end), found when first needed: many texts need none."""
        if self._found_runs is None:
            self._found_runs = [(m.start(), m.end()) for m in WORD_RUN.finditer(self.text)]
        return self._found_runs

    def runs_with(self, positions: Iterable[int]) -> list[tuple[int, int]]:
        """The runs of words that hold one of ``positions``."""
        wanted = set(positions)
        if not wanted:
            return []
        return [(s, e) for s, e in self._runs if any(s <= p < e for p in wanted)]

    def doc(self, run: tuple[int, int]) -> Doc:
        """A spaCy Doc of one run (offsets relative to the run)."""
        cuts = self._boundaries(run)
        words = [self.text[a:b] for a, b in pairwise(cuts)]
        return Doc(self._tokenizer.vocab, words=words, spaces=[False] * len(words))

    def aligned(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` starts and ends at token boundaries (whole words only).

        It is, where no dictionary word spans either offset (jieba must cut there) or where the
        run's tokens have them as boundaries. Which is asked first changes only the cost: the
        tokens when the run is cut already, else the dictionary (cutting a run costs more)."""
        run = self._run_at(start)
        if run is None or end > run[1]:
            return True  # not inside words: nothing to cut through
        if run[0] not in self._cuts and not self._crossable(start) and not self._crossable(end):
            return True
        cuts = self._boundaries(run)
        if start in cuts and end in cuts:
            return True
        return not self._crossable(start) and not self._crossable(end)

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
        """Whether some dictionary word (or run of Latin letters and digits) spans ``position``.

        Asked for both ends of most term hits and homophone corrections, often for the same
        offsets (最低, 最低价), so each answer is kept."""
        crossed = self._crossed.get(position)
        if crossed is None:
            crossed = self._crossed[position] = self._spanned(position)
        return crossed

    def _spanned(self, position: int) -> bool:
        text = self.text
        size = len(text)
        if not 0 < position < size:
            return False
        before, after = text[position - 1], text[position]
        if before.isascii() and after.isascii():
            return before.isalnum() and after.isalnum()
        get, longest = self._tokenizer.freq.get, self._tokenizer.longest
        stop = position + 1
        # nearest start first (short words are the likeliest); any word will do, so the order is free
        for start in range(position - 1, max(0, position - longest + 1) - 1, -1):
            count = get(text[start:stop])
            if count is None:
                continue  # not even a prefix of a word (jieba's FREQ holds every prefix, with 0)
            if count:
                return True
            for end in range(stop + 1, min(size, start + longest) + 1):
                count = get(text[start:end])
                if count is None:
                    break
                if count:
                    return True
        return False

    def _run_at(self, position: int) -> tuple[int, int] | None:
        for run in self._runs:
            if run[0] <= position < run[1]:
                return run
        return None

    def _boundaries(self, run: tuple[int, int]) -> list[int]:
        cuts = self._cuts.get(run[0])
        if cuts is None:
            start = run[0]
            cuts = [start + cut for cut in self._tokenizer.cuts(self.text[start : run[1]])]
            self._cuts[start] = cuts
        return cuts


def chinese_pipeline(user_words: Iterable[str]) -> tuple[Language, JiebaTokenizer]:
    """A blank Chinese spaCy pipeline tokenised by jieba with ``user_words`` added."""
    nlp = spacy.blank("zh")
    tokenizer = JiebaTokenizer(nlp.vocab, user_words)
    nlp.tokenizer = tokenizer
    return nlp, tokenizer
