"""Speech: audio decoding, voice activity, speech pieces, Whisper, transcript filters, the audio
archive and evidence clips, and the recogniser's evaluation.

Stage logic: no broker, no warehouse (DESIGN.md §2; checked by tests/test_architecture.py).
"""
