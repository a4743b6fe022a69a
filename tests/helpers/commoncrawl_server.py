"""A stand-in for data.commoncrawl.org on 127.0.0.1: serves ``crawl-data/<crawl>/wet.paths.gz``
and the WET files it lists, honours ``Range``, and injects faults scripted per request.

``server.script(path, Fault(...), Fault(...))`` queues faults for the next requests of that
path, one per request, in order; requests after the queue is empty are served normally. Each
request is logged as (path, Range header, status, fault) so tests can check what the client did.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Fault:
    status: Optional[int] = None  # answer this status with an empty body
    retry_after: Optional[str] = None  # with status: a Retry-After header
    delay_s: float = 0.0  # wait before answering (longer than the client's timeout = a stall)
    ignore_range: bool = False  # answer 200 with the whole file even to a Range request
    cut_after: Optional[int] = None  # announce the full length, send this many bytes, then close
    reset: bool = False  # with cut_after: close with a TCP reset instead of a clean FIN
    serve_first: Optional[int] = None  # serve a truncated file: this many bytes, length headers to match
    flip_byte_at: Optional[int] = None  # corrupt one byte of the body (same length)
    body: Optional[bytes] = None  # answer 200 with these bytes instead of the file (an error page)
    trickle: Optional[tuple[int, float]] = None  # (bytes, seconds): send that many bytes, wait, and so on


class FakeCommonCrawl:
    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.faults: dict[str, deque] = defaultdict(deque)
        self.log: list[tuple[str, Optional[str], int, Optional[Fault]]] = []
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> "FakeCommonCrawl":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, path: str, *faults: Fault) -> None:
        self.faults[path].extend(faults)

    def requests_for(self, path: str) -> list[tuple[Optional[str], int, Optional[Fault]]]:
        return [(rng, status, fault) for p, rng, status, fault in self.log if p == path]

    def _next_fault(self, path: str) -> Optional[Fault]:
        with self._lock:
            return self.faults[path].popleft() if self.faults[path] else None

    def _record(self, path, rng, status, fault) -> None:
        with self._lock:
            self.log.append((path, rng, status, fault))

    def _handler_class(self):
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                self._logged = (path, self.headers.get("Range"), site._next_fault(path))
                try:
                    self._answer(path, self._logged[1], self._logged[2] or Fault())
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a stall)
                    pass

            def send_response(self, code, message=None):
                # Logged before the status line leaves, so a test never sees the client done first.
                path, rng, fault = self._logged
                site._record(path, rng, code, fault)
                super().send_response(code, message)

            def _answer(self, path: str, rng: Optional[str], fault: Fault) -> None:
                self.close_connection = True
                if fault.delay_s:
                    time.sleep(fault.delay_s)
                if fault.status:
                    retry_after = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
                    return self._empty(fault.status, retry_after)
                if path not in site.files and fault.body is None:
                    return self.send_error(404)
                data = site.files[path] if fault.body is None else fault.body
                etag = '"%s"' % hashlib.md5(data).hexdigest()  # of the real file: faults happen in transit
                data = self._damaged(data, fault)
                start = 0
                # RFC 9110: a Range whose If-Range validator is stale gets the whole file (200).
                if rng and not fault.ignore_range and self.headers.get("If-Range") in (None, etag):
                    start = int(rng.split("=", 1)[1].split("-", 1)[0])
                    if start >= len(data):
                        return self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
                self._send_body(data, start, etag, fault)

            def _empty(self, status: int, headers: dict) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            @staticmethod
            def _damaged(data: bytes, fault: Fault) -> bytes:
                if fault.serve_first is not None:
                    data = data[: fault.serve_first]
                if fault.flip_byte_at is not None:
                    at = fault.flip_byte_at
                    data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
                return data

            def _send_body(self, data: bytes, start: int, etag: str, fault: Fault) -> None:
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if fault.trickle is not None:
                    return self._trickle(body, *fault.trickle)
                if fault.cut_after is None:
                    self.wfile.write(body)
                    return
                self.wfile.write(body[: fault.cut_after])
                self.wfile.flush()
                self._close(reset=fault.reset)

            def _trickle(self, body: bytes, size: int, pause_s: float) -> None:
                """Never idle long enough for a read timeout, never done in time."""
                for at in range(0, len(body), size):
                    self.wfile.write(body[at:at + size])
                    self.wfile.flush()
                    time.sleep(pause_s)

            def _close(self, reset: bool) -> None:
                if reset:  # SO_LINGER 0: close() sends RST, the client sees a reset connection
                    time.sleep(0.1)  # let the client read what was sent: a reset discards unread data
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                else:
                    self.connection.shutdown(socket.SHUT_WR)

        return Handler


def listing(*paths: str) -> bytes:
    return gzip.compress(("\n".join(paths) + "\n").encode("ascii"), mtime=0)
