"""A live source read for as long as it broadcasts: reconnected when it drops, ended when it is gone.

A live URL (HTTP-FLV, HLS, RTMP) drops for many reasons that are not the end of the broadcast: a
CDN edge that stalls (the read timeout fires), a relay restarted, the anchor's uplink lost for a
minute. :func:`live_pcm` opens the source again after each drop, after 0.5, 1, 2, 4 .. 15 s, and
carries the stream's offsets on. The audio broadcast while it was gone is lost; to keep later
offsets where the broadcast has them (evidence times, and clips cut from the archive by offset),
the outage is measured on the wall clock, from the last audio received to the connection that
brought the audio back, and filled with that much silence: the VAD sends nothing on, the archive
keeps its alignment, and the outage is recorded in ``DecodeReport.outages``, so the pieces after it
carry it in ``unreadable_before_s`` as damage does (:mod:`pipeline.speech.damage`).

FFmpeg's own HTTP reconnection (``-reconnect_streamed``) is not used: it hides the outage inside
one connection, and a server that restarts its timestamps on reconnection (a new relay process)
then puts everything after it early by the outage's length, unmeasured.

A source gone for ``give_up_s`` is gone for good (how a broadcast ends on most platforms: the
stream URL starts answering 404): the audio ends where the last audio received did, and
``DecodeReport.ended`` says why. A first connection that fails is an error (a wrong URL fails
fast), and so is a failure of a recording served over HTTP (it declares its duration): opening
it again would replay it from the start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.errors import AudioError
from pipeline.speech.audio import DecodeOptions, Pcm, decode_pcm, describe
from pipeline.speech.damage import MIN_GAP_S, DecodeReport, Gap

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reconnect:
    """When a live source counts as dropped, how it is retried, and when it is gone for good.

    ``stall_timeout_s`` is the read timeout: that long without a packet and the connection is
    dropped and opened again. Retries wait ``first_delay_s``, doubling up to ``max_delay_s``.
    """

    stall_timeout_s: float = 10.0
    give_up_s: float = 300.0
    first_delay_s: float = 0.5
    max_delay_s: float = 15.0


def live_pcm(
    source: str | Path, options: DecodeOptions, reconnect: Reconnect, *, report: DecodeReport
) -> Iterator[Pcm]:
    """Blocks of the live ``source`` as :func:`decode_pcm` gives them, across reconnections, with
    silence in place of each outage (``report.outages``); ``report.ended`` says why they stopped.
    Raises :class:`AudioError` (``report.ended`` set too) where the source cannot be read at all."""
    opts = replace(options, read_timeout_s=reconnect.stall_timeout_s)
    rate = opts.sample_rate_hz
    heard, last_audio, delay = 0, 0.0, reconnect.first_delay_s  # samples handed on, silence included
    while True:
        attempt = time.monotonic()
        part = DecodeReport(start_s=report.start_s + heard / rate, gaps=report.gaps)
        got = False
        try:
            for block in decode_pcm(source, opts, report=part):
                if not got and heard:  # back after an outage: silence for it first
                    for silence in _outage(report, heard, attempt - last_audio, opts):
                        heard += len(silence)
                        yield silence
                    part.start_s = report.start_s + heard / rate  # where this connection's gaps are
                    delay = reconnect.first_delay_s
                got = True
                heard += len(block)
                report.read_s = heard / rate
                last_audio = time.monotonic()
                yield block
        except AudioError as exc:
            if not heard or part.declared_s is not None:  # wrong URL, or a recording that failed
                report.ended = str(exc)
                raise
            reason = str(exc)
        else:
            if part.declared_s is not None:
                return  # a recording served over HTTP, read to its end
            reason = f"{describe(source)}: the server ended the stream"
        gone = time.monotonic() - last_audio
        if gone >= reconnect.give_up_s:
            report.ended = f"the source was gone for {reconnect.give_up_s:g} s ({reason})"
            log.warning("%s; the stream ends", report.ended)
            return
        if got:
            log.warning("%s; reconnecting (for up to %g s)", reason, reconnect.give_up_s)
        time.sleep(min(delay, reconnect.give_up_s - gone))
        delay = min(2 * delay, reconnect.max_delay_s)


def _outage(report: DecodeReport, heard: int, lost_s: float, opts: DecodeOptions) -> Iterator[Pcm]:
    """Silence for the ``lost_s`` seconds a live source was gone, recorded as an outage."""
    missing = round(lost_s * opts.sample_rate_hz)
    if missing < MIN_GAP_S * opts.sample_rate_hz:
        return
    gap = Gap(round(report.start_s + heard / opts.sample_rate_hz, 3), round(missing / opts.sample_rate_hz, 3))
    report.outages.append(gap)
    log.warning(
        "live source back after %.1f s gone at %.1f s; silence in its place, later times kept on "
        "the wall clock", gap.duration_s, gap.start_s,
    )  # fmt: skip
    block = max(1, round(opts.block_s * opts.sample_rate_hz))
    for start in range(0, missing, block):  # a block at a time: memory stays flat
        yield np.zeros(min(block, missing - start), dtype=np.int16)
