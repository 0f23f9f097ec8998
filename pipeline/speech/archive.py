"""The audio archive: each stream's audio kept as Ogg/Opus, where evidence clips are cut from.

Ingest writes the 16 kHz mono audio it decodes into ``<audio_dir>/<stream_id>.ogg`` as it goes
(Ogg pages reach the disk while the stream runs, so clips of a live stream can be cut already).
Opus at 24 kbit/s keeps speech intelligible at about 11 MB an hour: three years of a stream's
audio is affordable, which the record-keeping duty asks for.

An archive is evidence, so it is never written over. A stream ingested again (a monitor restarted
on a broadcast still running, the next file of a recording) gets a new *part*,
``<stream_id>+2.ogg`` and so on, that starts where the stream's audio had got to (for a live
source, where the broadcast is now by the wall clock since the stream's ``started_at``). The parts
are listed in ``<stream_id>+parts.json`` with the stream's ``started_at`` (kept: a later ingest
does not move the stream's start) and each part's first offset; clips are cut from the part that
holds their offset (:func:`part_at`). Ingesting a recorded part's very file again is a replay: its
pieces go out again at the same offsets (the workers deduplicate them) and nothing is written.

Archive names are injective: a stream id that is a safe file name (letters, digits, ``.``, ``_``,
``-``, not starting with a dot) is the name as it is; any other id is made safe and followed by
``~`` and 16 hex digits of its BLAKE2b hash (``a/b`` → ``a_b~<hash>.ogg``, while ``a_b`` stays
``a_b.ogg``), so two ids never share an archive. The parts list names the stream's MCN
(``mcn_id``): an ingest of the same stream id for another MCN is refused, not made a part of
this one's evidence. (A list written before it named the MCN is continued by any.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
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
    """Where a stream's audio goes (its first part; ``streams.audio_path``): the stream id when it
    is a safe file name, else the id made safe and its hash (module docstring: never two ids
    in one file)."""
    if stream_id and not stream_id.startswith(".") and not _SAFE.search(stream_id):
        return audio_dir / f"{stream_id}.ogg"
    safe = _SAFE.sub("_", stream_id)
    safe = "_" + safe[1:] if safe.startswith(".") else safe or "_"
    digest = hashlib.blake2b(stream_id.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return audio_dir / f"{safe}~{digest}.ogg"


@dataclass
class Part:
    """One ingest's audio of a stream: ``file`` (beside the list) from stream offset ``start_s``."""

    file: str
    start_s: float
    first_seq: int
    source: str = ""
    digest: str = ""  # SHA-256 of a file source: ingesting that file again is a replay
    end_s: float | None = None  # set when the ingest finished (None: still running, or it crashed)
    next_seq: int | None = None
    unreadable_s: float = 0.0


@dataclass
class Parts:
    """The parts list of a stream's archive (``<stream_id>+parts.json``)."""

    stream_id: str
    started_at: datetime
    parts: list[Part] = field(default_factory=list)
    mcn_id: str = ""  # the MCN whose stream it is ("" in a list written before it was kept)

    @classmethod
    def read(cls, path: Path) -> Parts:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["stream_id"], datetime.fromisoformat(data["started_at"]),
                       [Part(**p) for p in data["parts"]], str(data.get("mcn_id", "")))  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AudioError(f"cannot read the archive's parts list {path}: {exc}") from None

    def write(self, path: Path) -> None:
        """Written whole, then moved into place: a crash leaves the old list or the new one."""
        data = {"stream_id": self.stream_id, "mcn_id": self.mcn_id, "started_at": self.started_at.isoformat(),
                "parts": [asdict(p) for p in self.parts]}  # fmt: skip
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, path)


@dataclass
class Plan:
    """What one ingest of a stream writes: a new part (``writer`` set) or a replay of one."""

    archive: Path  # the stream's archive (its first part), for ``streams.audio_path``
    started_at: datetime  # the stream's, from its first ingest
    part: Part
    replay: bool
    previous_end_s: float  # where the stream's audio had got to before this part
    earlier_unreadable_s: float

    @property
    def path(self) -> Path:
        return self.archive.with_name(self.part.file)


def parts_path(archive: Path) -> Path:
    return archive.with_name(archive.name.removesuffix(".ogg") + "+parts.json")


def plan_part(
    audio_dir: Path,
    stream_id: str,
    started_at: datetime,
    source: str,
    *,
    digest: str,
    now: datetime | None,
    mcn_id: str,
) -> Plan:
    """The part this ingest of ``stream_id`` (of ``mcn_id``) writes, listed before its audio is
    (``now`` is the wall clock for a live source: its part starts where the broadcast is; None for
    a file). An archive another MCN's stream began is refused (AudioError)."""
    archive = archive_path(audio_dir, stream_id)
    listed = parts_path(archive)
    if not listed.exists():
        if archive.exists():
            raise AudioError(
                f"{archive} exists without a parts list (archived before ClaimWatch kept one): it is "
                "evidence and is not written over; ingest this audio under a new --stream-id"
            )
        parts = Parts(stream_id, started_at, [Part(archive.name, 0.0, 0, source, digest)], mcn_id)
        return _listed(parts, listed, archive, replay=False)
    parts = Parts.read(listed)
    if parts.mcn_id and parts.mcn_id != mcn_id:
        raise AudioError(
            f"{archive} is the archive of stream {stream_id!r} of {parts.mcn_id}, not of {mcn_id}: "
            "another MCN's stream cannot continue it; ingest this audio under a new --stream-id"
        )
    for part in parts.parts:
        if digest and part.digest == digest and part.end_s is not None:
            return Plan(archive, parts.started_at, part, True, part.start_s, _unreadable(parts, part))
    end_s, next_seq = _end_of(archive, parts.parts[-1])
    start_s = max(end_s, (now - parts.started_at).total_seconds()) if now else end_s
    name = f"{archive.name.removesuffix('.ogg')}+{len(parts.parts) + 1}.ogg"
    parts.parts.append(Part(name, round(start_s * SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ, next_seq, source, digest))
    return _listed(parts, listed, archive, replay=False, previous_end_s=end_s)


def _listed(parts: Parts, listed: Path, archive: Path, *, replay: bool, previous_end_s: float = 0.0) -> Plan:
    listed.parent.mkdir(parents=True, exist_ok=True)
    parts.write(listed)
    part = parts.parts[-1]
    return Plan(archive, parts.started_at, part, replay, previous_end_s, _unreadable(parts, part))


def _unreadable(parts: Parts, before: Part) -> float:
    return sum(p.unreadable_s for p in parts.parts[: parts.parts.index(before)])


def _end_of(archive: Path, part: Part) -> tuple[float, int]:
    """Where a part's audio ends and the seq after it; read off its file when its ingest crashed."""
    if part.end_s is not None and part.next_seq is not None:
        return part.end_s, part.next_seq
    length = _length_s(archive.with_name(part.file))
    return part.start_s + length, part.first_seq + int(length * 10) + 1  # fewer pieces than that


def finish_part(plan: Plan, end_s: float, next_seq: int, unreadable_s: float) -> None:
    """Record where the part's audio ended (a replay changes nothing)."""
    if plan.replay:
        return
    listed = parts_path(plan.archive)
    parts = Parts.read(listed)
    for part in parts.parts:
        if part.file == plan.part.file:
            part.end_s, part.next_seq, part.unreadable_s = end_s, next_seq, round(unreadable_s, 3)
    parts.write(listed)


def part_at(archive: Path, offset_s: float) -> tuple[Path, float]:
    """The archive file holding the stream's ``offset_s`` and the stream offset it starts at."""
    listed = parts_path(archive)
    if not listed.exists():
        return archive, 0.0
    parts = Parts.read(listed).parts
    holding = [p for p in parts if p.start_s <= offset_s] or parts[:1]
    return archive.with_name(holding[-1].file), holding[-1].start_s


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _length_s(path: Path) -> float:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return float(container.duration or 0) / av.time_base
    except (OSError, av.FFmpegError, IndexError):
        return 0.0


class AudioArchive:
    """Appends int16 mono 16 kHz samples to an Ogg/Opus file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():  # evidence: never written over (plan_part names a new part)
            raise AudioError(f"the audio archive {path} exists already; it is not written over")
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
