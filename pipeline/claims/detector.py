"""The claim detector: normalise, (for speech) undo homophones, match, judge the context, report.

``Detector.detect`` returns :class:`~pipeline.records.Claim` records with character offsets into
the text it was given; ``Detector.explain`` returns every candidate with the reason it was kept or
dropped, for people tuning the lexicon.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pipeline.claims.conditions import Layout
from pipeline.claims.glitches import SpeechGlitches
from pipeline.claims.homophones import STAND_INS_LIST, Correction, HomophoneCorrector
from pipeline.claims.lexicon import Lexicon, load_lexicon
from pipeline.claims.matching import Candidate, CandidateFinder, literal_strings
from pipeline.claims.morphs import MorphReadings
from pipeline.claims.normalize import Normalised, Normaliser
from pipeline.claims.segment import Segmentation, chinese_pipeline
from pipeline.config import LEXICON_DIR
from pipeline.records import Claim

Source = Literal["speech", "listing"]
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
WEAK_SUPPORT = 2  # characters a claim needs beside a weak homophone correction to rely on it
_Placed = tuple[Candidate, Layout, tuple[Correction, ...]]  # a candidate, the text it is in, corrections


@dataclass(frozen=True, slots=True)
class Verdict:
    """A candidate and what became of it: ``reason`` is None for a claim, else why it is not one."""

    candidate: Candidate
    matched: str  # the normalised (and, for speech, homophone-corrected) text it reports
    reason: str | None
    corrected: bool  # whether it relies on a homophone correction


class Detector:
    """Finds claims in live-commerce utterances and listing texts; build with :func:`load_detector`."""

    def __init__(self, lexicon: Lexicon, normaliser: Normaliser | None = None) -> None:
        self.lexicon = lexicon
        self._normalise = normaliser or Normaliser()
        strings = literal_strings(lexicon)
        nlp, tokenizer = chinese_pipeline(strings)
        self._finder = CandidateFinder(lexicon, nlp)
        asr_words = {
            s
            for e in lexicon.entries
            if e.asr
            for s in (*e.terms, *(e.keywords if e.heard_keywords is None else e.heard_keywords))
        }
        asr_words.update(t for k in lexicon.knowledge if k.asr for t in k.terms)
        self._tokenizer = tokenizer
        stand_ins = [t for k in lexicon.knowledge if k.name == STAND_INS_LIST for t in k.terms]
        self._homophones = HomophoneCorrector(asr_words, tokenizer.is_common_word, stand_ins)
        self._glitches = SpeechGlitches(lexicon, self._finder.index, tokenizer.is_common_word)
        self._morphs = MorphReadings(lexicon)
        # the global context rules that apply to each category, in their order: every candidate
        # is judged against them, so the category filter is applied once here
        self._contexts = {
            category: tuple(r for r in lexicon.contexts if not r.categories or category in r.categories)
            for category in {entry.category for entry in lexicon.entries}
        }

    @property
    def version(self) -> str:
        """The lexicon version every claim carries (declared version + content digest)."""
        return self.lexicon.version

    def detect(self, text: str, *, source: Source = "speech") -> list[Claim]:
        """The claims in ``text``; ``source`` is ``speech`` (a transcript) or ``listing``.

        Where matches of one category overlap, one claim stands for them: the most severe, then
        the longest. Candidates are judged in that order, and one already outranked by a claim is
        not judged at all.
        """
        normalised = self.normalised(text, source=source)
        kept: list[Verdict] = []
        for candidate, layout, corrections in sorted(self._candidates(normalised.text, source), key=_rank):
            if kept and any(_same_place(k.candidate, candidate) for k in kept):
                continue
            verdict = self._judge(candidate, layout, corrections)
            if verdict.reason is None:
                kept.append(verdict)
        kept.sort(key=lambda v: (v.candidate.start, v.candidate.end, v.candidate.entry.category))
        return [self._claim(v, normalised, source) for v in kept]

    def normalised(self, text: str, *, source: Source = "speech") -> Normalised:
        """The text as the lexicons see it, with the map of its offsets back to ``text``; speech
        with its morphs read as the words they stand for (:mod:`pipeline.claims.morphs`), then
        without its fillers, masking marks and stutters (:mod:`pipeline.claims.glitches`)."""
        if source != "speech":
            return self._normalise(text)
        return self._glitches(self._morphs(self._normalise(text, join_words=True)))

    def normalise_text(self, text: str) -> str:
        """The text as the lexicons see it (Simplified, half-width, 百分百 → 100%, …)."""
        return self._normalise(text).text

    def explain(self, text: str, *, source: Source = "speech") -> list[Verdict]:
        """Every candidate in ``text`` with the reason it is or is not a claim."""
        normalised = self.normalised(text, source=source).text
        return [self._judge(*placed) for placed in self._candidates(normalised, source)]

    def _candidates(self, text: str, source: Source) -> list[_Placed]:
        """Candidates in the text as written and, for speech, in its homophone-corrected reading.

        The corrected reading only adds candidates that rely on a correction: a correction can turn
        a real word into a lexicon word (售价 → 首家), so the text as written is always matched too.
        """
        hits = self._finder.index.scan(text)
        segmentation = Segmentation(text, self._tokenizer)
        placed: list[_Placed] = []
        if hits:
            layout = Layout(text)
            placed.extend([(c, layout, ()) for c in self._finder.find(segmentation, hits)])
        if source == "speech":
            exact = [(s, e) for s, e, string in hits if len(string) > 1]
            corrected, corrections = self._homophones.correct(segmentation, exact)
            if corrections:
                layout = Layout(corrected)
                reading = Segmentation(corrected, self._tokenizer)
                spans = [(c.start, c.end) for c in corrections]
                found = self._finder.find(reading, self._finder.index.scan(corrected), near=spans)
                placed.extend(
                    [(c, layout, corrections) for c in found if any(_overlap(k, c) for k in corrections)]
                )
        return placed

    def _judge(self, candidate: Candidate, layout: Layout, corrections: tuple[Correction, ...]) -> Verdict:
        relied = [c for c in corrections if _overlap(c, candidate)] if corrections else []
        reason = self._context_reason(candidate, layout) or _homophone_reason(candidate, relied)
        end = candidate.end
        extend = candidate.entry.extend
        if extend is not None and (more := extend.match(layout.text, end)) is not None:
            end = more.end()  # the reported term runs on (最 → 最好用); the match stays as it was
        return Verdict(candidate, layout.text[candidate.start : end], reason, bool(relied))

    def _context_reason(self, candidate: Candidate, layout: Layout) -> str | None:
        """Why the context makes the candidate no claim: its entry's not_when, a global rule, or
        a context its entry needs and lacks; None if it is a claim."""
        entry = candidate.entry
        span = layout.span(candidate.start, candidate.end)
        for i, condition in enumerate(entry.not_when):
            if condition.holds(span):
                return f"{entry.rule_id} not_when[{i}]"
        for rule in self._contexts[entry.category]:
            if rule.when.holds(span):
                return rule.rule_id
        if entry.needs and not any(condition.holds(span) for condition in entry.needs):
            return f"{entry.rule_id} needs"
        return None

    def _claim(self, verdict: Verdict, normalised: Normalised, source: Source) -> Claim:
        entry = verdict.candidate.entry
        start, end = normalised.span(verdict.candidate.start, verdict.candidate.start + len(verdict.matched))
        term = normalised.original[start:end]
        # read through a homophone (每白 → 美白), past a glitch inside the term (美呃白 → 美白) or
        # through a morph (免某力 → 免疫力)
        read = (
            verdict.corrected
            or len(term) != len(verdict.matched)
            or (
                term != verdict.matched
                and self._normalise(term, join_words=source == "speech").text != verdict.matched
            )
        )
        extra = {"read_as": verdict.matched} if read else {}
        return Claim(
            category=entry.category,
            term=term,
            start=start,
            end=end,
            severity=entry.severity,
            rule_id=entry.rule_id,
            legal_basis=entry.legal_basis,
            lexicon_version=self.version,
            rewrite=entry.rewrite,
            requires=entry.requires,
            extra=extra,
        )


def _homophone_reason(candidate: Candidate, relied: list[Correction]) -> str | None:
    """Why the homophone corrections a candidate relies on cannot carry it; None if they can."""
    if relied and not candidate.entry.asr:
        return "homophone: entry does not allow it"
    if any(_unsupported(c, candidate) for c in relied):
        return "homophone: weak correction with too little around it"
    return None


def _overlap(correction: Correction, candidate: Candidate) -> bool:
    return correction.start < candidate.end and candidate.start < correction.end


def _unsupported(correction: Correction, candidate: Candidate) -> bool:
    """A weak correction with too little around it in the candidate to speak for the claim.

    一生推荐 → 医生推荐 has 推荐 beside the correction; 别指望 → 别之王 has only a 别.
    """
    beside = (candidate.end - candidate.start) - (correction.end - correction.start)
    return not correction.strong and beside < WEAK_SUPPORT


def _rank(placed: _Placed) -> tuple[int, int, int, str]:
    """Most severe first, then longest, then leftmost."""
    c = placed[0]
    return (-_SEVERITY_RANK[c.entry.severity], c.start - c.end, c.start, c.entry.rule_id)


def _same_place(claimed: Candidate, candidate: Candidate) -> bool:
    """Whether a candidate overlaps a claim of its own category."""
    return (
        claimed.entry.category == candidate.entry.category
        and claimed.start < candidate.end
        and candidate.start < claimed.end
    )


_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _load(directory: Path) -> Detector:
    normaliser = Normaliser()
    return Detector(load_lexicon(directory, normaliser.text), normaliser)


def load_detector(lexicon_dir: Path = LEXICON_DIR) -> Detector:
    """The detector for a lexicon directory (default: the lexicons this checkout ships), built once.

    It reads no settings: a caller with settings passes their ``lexicon_dir``."""
    with _LOCK:
        return _load(Path(lexicon_dir).resolve())
