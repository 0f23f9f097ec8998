"""Word segmentation: jieba tokens inside a blank spaCy Chinese pipeline.

``spacy.blank("zh")`` gets a tokenizer backed by a *private* ``jieba.Tokenizer`` whose user
dictionary holds the lexicon's words, so that

- a lexicon word comes out as one token whenever jieba's dictionary knows no longer word that
  contains it (防脱 in 防脱洗发水), and
- a lexicon word inside a longer ordinary word stays hidden there (第一 in 第一次, 唯一 in 唯一性,
  万能 in 万能胶, 防脱 in 防脱落), which is what ``words:`` entries rely on.

A private instance keeps our user words out of jieba's global dictionary, which other code in the
same process may use. HMM guessing of unknown words is off: segmentation then depends only on the
dictionaries, which is faster and reproducible.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import jieba
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

COMMON_WORD_FREQ = 10  # jieba's dictionary lists rare and archaic words with frequencies below this


class JiebaTokenizer:
    """A spaCy tokenizer: jieba's precise mode with the lexicon words in its user dictionary."""

    def __init__(self, vocab: Vocab, user_words: Iterable[str]) -> None:
        self.vocab = vocab
        logging.getLogger("jieba").setLevel(logging.WARNING)  # it logs its cache loading at DEBUG
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for word in sorted(set(user_words)):
            self._jieba.add_word(word)

    def __call__(self, text: str) -> Doc:
        words = [w for w in self._jieba.cut(text, HMM=False) if w]
        return Doc(self.vocab, words=words, spaces=[False] * len(words))

    def boundaries(self, text: str) -> set[int]:
        """The offsets at which a token starts or ends (0 and ``len(text)`` included)."""
        cuts = {0}
        position = 0
        for word in self._jieba.cut(text, HMM=False):
            position += len(word)
            cuts.add(position)
        return cuts

    def is_common_word(self, text: str) -> bool:
        """Whether jieba's dictionary knows ``text`` as a word in common use (not 转韵, 保正)."""
        return int(self._jieba.FREQ.get(text, 0)) >= COMMON_WORD_FREQ


def chinese_pipeline(user_words: Iterable[str]) -> tuple[Language, JiebaTokenizer]:
    """A blank Chinese spaCy pipeline tokenised by jieba with ``user_words`` added."""
    nlp = spacy.blank("zh")
    tokenizer = JiebaTokenizer(nlp.vocab, user_words)
    nlp.tokenizer = tokenizer
    return nlp, tokenizer
