"""Audio fixtures made on the spot: ffmpeg conversions, generated sound, and a local HTTP server.

Nothing here is committed audio: files are written into pytest's temporary directories.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.sample import SAMPLE_DIR

AUDIO = Path(__file__).resolve().parent / "data" / "audio"
SAMPLE = SAMPLE_DIR


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; a failure shows its stderr."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)


def convert(source: Path, target: Path, *codec: str) -> Path:
    ffmpeg("-i", str(source), *codec, str(target))
    return target


def generated(target: Path, lavfi: str, *codec: str) -> Path:
    """Sound from an ffmpeg lavfi source (sine=..., anullsrc=..., anoisesrc=...)."""
    ffmpeg("-f", "lavfi", "-i", lavfi, *codec, str(target))
    return target


def hls(source: Path, directory: Path, segment_s: float = 1.0) -> Path:
    """An HLS rendition of ``source`` (AAC in MPEG-TS segments) with its playlist."""
    directory.mkdir(parents=True, exist_ok=True)
    playlist = directory / "index.m3u8"
    ffmpeg(
        "-i", str(source), "-c:a", "aac", "-b:a", "64k", "-f", "hls",
        "-hls_time", str(segment_s), "-hls_list_size", "0", str(playlist),
    )  # fmt: skip
    return playlist


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a stalled live source."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/live.flv"
    finally:
        listener.close()


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def rtmp_publisher(source: Path, port: int) -> Iterator[str]:
    """ffmpeg as an RTMP server publishing ``source`` in real time to the first client that connects."""
    url = f"rtmp://127.0.0.1:{port}/live/room"
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-i", str(source), "-c:a", "aac", "-f", "flv"]
    process = subprocess.Popen(
        [*cmd, "-listen", "1", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


def damaged_in_the_middle(source: Path, target: Path, length: int = 20_000) -> Path:
    """``source`` with ``length`` bytes from its middle overwritten by noise (a disk or transfer
    error): for the sample Ogg, the pages holding 53.0-60.0 s become unreadable."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + length] = random.Random(3).randbytes(length)
    target.write_bytes(bytes(data))
    return target


def cut_short(source: Path, target: Path, keep: float = 0.4) -> Path:
    """The first ``keep`` of ``source``'s bytes (a copy or an upload that stopped early)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


class _LiveRoom:
    """A live room served as HTTP-FLV: each request gets the broadcast from where it is now.

    The broadcast's clock starts at the first request (so its second c is the stream's offset c).
    Within ``stall`` (from, to) the connection open then stops sending (a stalled CDN edge) and new
    requests are answered 503; once ``source`` has played out, every request is 404: gone for good.
    """

    def __init__(self, source: Path, stall: tuple[float, float] | None) -> None:
        self.source = source
        self.stall = stall
        self.length_s = _duration(source)
        self.since: float | None = None
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.requests: list[tuple[float, int]] = []  # (broadcast second, status) of each request

    def now(self) -> float:
        with self.lock:
            if self.since is None:
                self.since = time.monotonic()
            return time.monotonic() - self.since

    def status(self, at: float) -> int:
        if at >= self.length_s - 0.5:
            return 404
        if self.stall and self.stall[0] <= at < self.stall[1]:
            return 503
        return 200

    def serve(self, handler: SimpleHTTPRequestHandler) -> None:
        at = self.now()
        status = self.status(at)
        self.requests.append((round(at, 2), status))
        if status != 200:
            handler.send_error(status)
            return
        until = self.stall[0] if self.stall and at < self.stall[0] else self.length_s
        handler.send_response(200)
        handler.send_header("Content-Type", "video/x-flv")
        handler.end_headers()
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-ss", f"{at:.3f}",
               "-t", f"{until - at:.3f}", "-i", str(self.source),
               "-c:a", "aac", "-ar", "44100", "-f", "flv", "pipe:1"]  # fmt: skip
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as ffmpeg:
            assert ffmpeg.stdout is not None
            try:
                while data := ffmpeg.stdout.read1(4096):
                    handler.wfile.write(data)
                    handler.wfile.flush()
            except OSError:  # the client hung up
                ffmpeg.kill()
        if until < self.length_s and self.stall:  # stalled: send nothing more until the stall ends
            self.closing.wait(max(0.0, self.stall[1] - self.now()))


def _duration(source: Path) -> float:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(source)],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return float(probe.stdout.strip())


@contextmanager
def live_room(source: Path, *, stall: tuple[float, float] | None = None) -> Iterator[tuple[str, _LiveRoom]]:
    """A live HTTP-FLV room broadcasting ``source`` on a free loopback port (see :class:`_LiveRoom`);
    yields its URL and the room (``room.requests`` tells what each connection was answered)."""
    room = _LiveRoom(source, stall)

    class Handler(_QuietHandler):
        def do_GET(self) -> None:
            room.serve(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/live/room.flv", room
    finally:
        room.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
