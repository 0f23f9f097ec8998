"""Streaming voice activity detection and the cutting of a stream into pieces to decode.

:class:`StreamingVad` runs the Silero VAD model that ships with faster-whisper over audio as it
arrives, keeping the model's recurrent state and the 64-sample context between calls, so the
speech probabilities of a stream fed in pieces of any size equal those of the whole recording.

:class:`PieceCutter` turns those probabilities into *pieces*: stretches of audio that are decoded
once each. A piece ends at a VAD silence; consecutive speech is merged into one piece while the
oldest undecoded speech is younger than the latency budget, because Whisper pays for a full 30 s
window per call however short the piece. Only when speech runs on without any pause for the whole
budget is it cut, at the quietest moment of its second half. All decisions depend on the audio
alone (never on the wall clock), so re-processing a stream yields the same pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import get_vad_model

SAMPLE_RATE_HZ = 16_000
WINDOW = 512  # samples per VAD decision (32 ms)
_CONTEXT = 64  # samples of the previous window the model sees
_STATE = (1, 1, 128)

Floats = npt.NDArray[np.float32]


class StreamingVad:
    """Silero speech probabilities, one per 512-sample window, for audio fed in any sizes."""

    def __init__(self) -> None:
        self._session = get_vad_model().session
        self._h = np.zeros(_STATE, dtype=np.float32)
        self._c = np.zeros(_STATE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._rest = np.zeros(0, dtype=np.float32)

    def push(self, audio: Floats) -> Floats:
        """Probabilities of the complete windows now available (the remainder waits)."""
        data = np.concatenate([self._rest, audio]) if len(self._rest) else audio
        count = len(data) // WINDOW
        self._rest = data[count * WINDOW :].copy()
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        windows = data[: count * WINDOW].reshape(count, WINDOW)
        contexts = np.concatenate([self._context[None, :], windows[:-1, -_CONTEXT:]])
        self._context = windows[-1, -_CONTEXT:].copy()
        batch = np.concatenate([contexts, windows], axis=1).astype(np.float32, copy=False)
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        return np.asarray(out, dtype=np.float32).reshape(-1)


@dataclass(frozen=True, slots=True)
class CutOptions:
    """How speech is found and grouped; times in seconds of audio."""

    threshold: float = 0.5  # speech starts at this probability...
    neg_threshold: float = 0.35  # ...and ends after min_silence_s below this one
    min_silence_s: float = 0.3
    min_speech_s: float = 0.15  # shorter blips are ignored
    speech_pad_s: float = 0.3  # audio kept around speech so word edges are not clipped
    latency_budget_s: float = 24.0  # the oldest undecoded speech is cut loose after this long
    # Finished speech waits at most this long for more before it is cut loose (None: the budget).
    # 0 gives a piece per utterance, for a worker that packs pieces of many streams together.
    merge_s: float | None = None

    def __post_init__(self) -> None:
        if self.merge_s is not None and not 0 <= self.merge_s <= self.latency_budget_s:
            raise ValueError("merge_s must lie between 0 and latency_budget_s")
        # a piece spans at most the budget plus padding on both sides; Whisper sees 30 s of it
        if not 2.0 <= self.latency_budget_s <= WHISPER_WINDOW_S - 2 * self.speech_pad_s - 1.0:
            raise ValueError(
                f"latency_budget_s must lie between 2 s and {WHISPER_WINDOW_S - 1.0} s less the padding "
                f"({2 * self.speech_pad_s} s): Whisper sees {WHISPER_WINDOW_S} s at a time"
            )


WHISPER_WINDOW_S = 30.0


@dataclass(frozen=True, slots=True)
class Piece:
    """Samples ``start``..``end`` (absolute, 16 kHz) of one stream, to be decoded together."""

    start: int
    end: int


class PieceCutter:
    """Decides, window by window, where a stream's pieces begin and end."""

    def __init__(self, options: CutOptions | None = None) -> None:
        self.options = opt = options or CutOptions()
        self._min_silence = _windows(opt.min_silence_s)
        self._min_speech = _windows(opt.min_speech_s)
        self._budget = _windows(opt.latency_budget_s)
        self._merge = self._budget if opt.merge_s is None else round(opt.merge_s * SAMPLE_RATE_HZ / WINDOW)
        self._pad = round(opt.speech_pad_s * SAMPLE_RATE_HZ)
        self.pos = 0  # windows seen so far
        self._closed: list[tuple[int, int]] = []  # finished speech (windows) not yet in a piece
        self._speech: int | None = None  # window where the running speech began
        self._quiet: int | None = None  # window where the running speech went quiet
        self._probs: list[float] = []  # probabilities since the running speech began
        self._floor = 0  # sample where the last piece ended: no piece reaches back before it
        self._closed_at = 0  # window where the oldest finished speech was found finished

    def push(self, probs: Floats) -> list[Piece]:
        """Feed probabilities of the next windows; returns the pieces that became complete."""
        pieces: list[Piece] = []
        for p in probs.tolist():
            self._step(p)
            if self._closed and self.pos - self._closed_at >= self._merge:
                pieces.append(self._cut())
            oldest = self._closed[0][0] if self._closed else self._speech
            if oldest is not None and self.pos - oldest >= self._budget:
                pieces.append(self._cut())
        return pieces

    def flush(self, end_sample: int) -> list[Piece]:
        """End of stream at ``end_sample``: speech still open becomes the last piece."""
        if self._speech is not None:
            self._end_speech(self._quiet if self._quiet is not None else self.pos)
        if not self._closed:
            return []
        closed, self._closed = self._closed, []
        return [self._piece(closed, end_sample)]

    def retain_from(self) -> int:
        """The earliest sample a future piece can still include."""
        oldest = self._closed[0][0] if self._closed else self._speech
        start = self.pos if oldest is None else oldest
        return max(self._floor, start * WINDOW - self._pad)

    def _step(self, p: float) -> None:
        opt = self.options
        if self._speech is None:
            if p >= opt.threshold:
                self._speech, self._quiet, self._probs = self.pos, None, []
        elif p >= opt.threshold:
            self._quiet = None
        elif p < opt.neg_threshold:
            self._quiet = self.pos if self._quiet is None else self._quiet
            if self.pos + 1 - self._quiet >= self._min_silence:
                self._end_speech(self._quiet)
        if self._speech is not None:
            self._probs.append(p)
        self.pos += 1

    def _end_speech(self, end: int) -> None:
        start = self._speech
        assert start is not None
        if end - start >= self._min_speech:
            if not self._closed:
                self._closed_at = self.pos  # when the oldest finished speech finished
            self._closed.append((start, end))
        self._speech = self._quiet = None

    def _cut(self) -> Piece:
        if self._closed:  # cut after the last finished speech; what is being said now waits
            closed, self._closed = self._closed, []
            limit = self.pos if self._speech is None else self._speech
            return self._piece(closed, limit * WINDOW)
        return self._split_running_speech()

    def _split_running_speech(self) -> Piece:
        """Speech without a pause for the whole budget: cut at the quietest window of its second half."""
        start = self._speech
        assert start is not None
        half = len(self._probs) // 2
        cut = max(start + 1, start + half + int(np.argmin(self._probs[half:])))
        self._probs = self._probs[cut - start :]
        self._speech = cut
        piece = Piece(start=max(self._floor, start * WINDOW - self._pad), end=cut * WINDOW)
        self._floor = piece.end
        return piece

    def _piece(self, regions: list[tuple[int, int]], limit: int) -> Piece:
        first = max(self._floor, regions[0][0] * WINDOW - self._pad)
        end = max(first + WINDOW, min(limit, regions[-1][1] * WINDOW + self._pad))
        self._floor = end
        return Piece(start=first, end=end)


def _windows(seconds: float) -> int:
    return max(1, round(seconds * SAMPLE_RATE_HZ / WINDOW))
