"""The audio archive: each stream's audio kept as Ogg/Opus, where evidence clips are cut from.

Ingest writes the 16 kHz mono audio it decodes into ``<audio_dir>/<stream_id>.ogg`` as it goes
(Ogg pages reach the disk while the stream runs, so clips of a live stream can be cut already).
Opus at 24 kbit/s keeps speech intelligible at about 11 MB an hour: three years of a stream's
audio is affordable, which the record-keeping duty asks for.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import numpy.typing as npt

from pipeline.errors import AudioError

SAMPLE_RATE_HZ = 16_000
BIT_RATE = 24_000
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def archive_path(audio_dir: Path, stream_id: str) -> Path:
    """Where a stream's audio goes; the stream id is made safe for a file name."""
    return audio_dir / f"{_SAFE.sub('_', stream_id)}.ogg"


class AudioArchive:
    """Appends int16 mono 16 kHz samples to an Ogg/Opus file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(path), "w", format="ogg")
        except (OSError, av.FFmpegError) as exc:
            raise AudioError(f"cannot write the audio archive {path}: {exc}") from None
        self._stream = self._container.add_stream("libopus", rate=SAMPLE_RATE_HZ, layout="mono")
        self._stream.bit_rate = BIT_RATE
        self._pts = 0
        self.samples = 0

    def write(self, samples: npt.NDArray[np.int16]) -> None:
        if not len(samples):
            return
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE_HZ
        frame.pts = self._pts
        self._pts += len(samples)
        self.samples += len(samples)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> AudioArchive:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
