"""Claim detection for live-commerce speech and listing texts.

    from pipeline.claims import load_detector
    detector = load_detector()                 # the lexicons this checkout ships, built once
    detector.detect("全网最低价", source="speech")  # -> [Claim(category="absolute", ...), ...]

The lexicons under ``lexicons/`` are data (see docs/claims.md); the detector normalises the text
(:mod:`.normalize`), undoes speech-recognition homophones for transcripts (:mod:`.homophones`),
finds candidates with jieba tokens in spaCy and on characters (:mod:`.matching`), and keeps those
whose context makes them claims (:mod:`.conditions`).
"""

from pipeline.claims.detector import Detector, Verdict, load_detector

__all__ = ["Detector", "Verdict", "load_detector"]
