"""Sequential reads of http(s):// inputs that survive dropped connections.

fsspec's HTTP files need Range support for every read and fail the whole shard when a connection
drops. A WARC shard is read once, front to back, so a plain streamed GET is enough; when the
connection drops mid-file we reconnect with `Range: bytes=N-` (or, when the server ignores Range,
GET again and skip N bytes) and go on at the byte where we stopped, never splicing two versions of
a file: the resumed response must carry the same ETag / Last-Modified / length as the first one.

Errors are `RemoteInputError` (one-line message, picklable). It is deliberately neither an OSError
nor a ValueError: the WARC reader turns those into "damaged bytes" rows, whereas a remote failure
must fail the shard so that the runner retries it.
"""

from __future__ import annotations

import functools
import io
import re
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
MAX_BACKOFF = 30.0  # seconds: the longest pause between two attempts
CHUNK = 1 << 16
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verified TLS context per process: building it (loading the CA bundle) costs ~0.3 s.

    Same CA choice as httpx's default: SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's bundle.
    """
    import os

    import certifi

    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile and os.path.isfile(cafile):
        return ssl.create_default_context(cafile=cafile)
    if capath and os.path.isdir(capath):
        return ssl.create_default_context(capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


class RemoteInputError(Exception):
    """A remote input that could not be read to the end; the message is one line."""


class RemoteFileChanged(RemoteInputError):
    """The file changed between two connections: its bytes cannot be spliced."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


class RemoteStream(io.RawIOBase):
    """A read-only, forward-only file object over one http(s) URL (see `open_stream`).

    `size` is the file's length when the server said it (Content-Length), else None;
    `retries` counts the reconnections made so far (each also reported through `on_retry`).
    """

    def __init__(self, uri: str, *, retries: int = 5, backoff: float = 0.5,
                 on_retry: Callable[[dict[str, Any]], None] | None = None,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT, client: httpx.Client | None = None) -> None:
        super().__init__()
        self.uri = uri
        self.max_retries = retries
        self.backoff = backoff
        self.on_retry = on_retry
        self.retries = 0
        self.error: RemoteInputError | None = None  # once set, every read raises it again
        self.size: int | None = None
        self._pos = 0
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=True, verify=_ssl_context())
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buf = b""
        self._eof = False
        self._identity: dict[str, str | None] = {}
        self._accepts_ranges = True
        try:
            self._connect(0)
        except BaseException:
            self.close()
            raise

    # --- io.RawIOBase ---------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only a seek to where we are (fastwarc asks for it); anything else is not possible on a stream."""
        target = offset if whence == io.SEEK_SET else self._pos + offset if whence == io.SEEK_CUR else -1
        if target != self._pos:
            raise io.UnsupportedOperation("seek on a streamed http input")
        return self._pos

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, n: int | None = -1) -> bytes:
        """Exactly `n` bytes (fewer only at the end of the file); all that is left when n < 0."""
        if self.closed:
            raise ValueError("read of a closed stream")
        if self.error is not None:
            raise self.error
        want = -1 if n is None or n < 0 else n
        parts: list[bytes] = []
        got = 0
        while want < 0 or got < want:
            try:
                piece = self._take(want - got if want >= 0 else CHUNK * 16)
            except RemoteInputError as exc:
                # sticky: a caller that swallows it (fastwarc may turn it into an OSError) meets it again
                self.error = exc
                raise
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        if not self.closed:
            self._drop_response()
            if self._own_client:
                self._client.close()
        super().close()

    def __enter__(self) -> RemoteStream:
        return self

    # --- transfer -------------------------------------------------------------------------------

    def _take(self, n: int) -> bytes:
        """Up to `n` bytes from the current response, reconnecting on a drop; b'' at the end of the file."""
        while not self._buf:
            if self._eof:
                return b""
            if self._chunks is None:  # only after a failure that the caller chose to ignore
                raise RemoteInputError(f"{self.uri}: read after a failed reconnection")
            try:
                chunk = next(self._chunks, None)
            except (httpx.TransportError, OSError) as exc:
                self._retry(f"connection lost after {self._pos} bytes: {_one_line(exc)}")
                continue
            if chunk is None:  # the response ended: whole file, or a silent short read
                if self.size is not None and self._pos < self.size:
                    self._retry(f"response ended after {self._pos} of {self.size} bytes")
                    continue
                self._eof = True
                self._drop_response()
                return b""
            self._buf = chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        self._pos += len(out)
        if self.size is not None and self._pos > self.size:
            raise RemoteFileChanged(f"{self.uri}: more bytes than the announced length {self.size}")
        return out

    def _retry(self, error: str) -> None:
        """Reconnect at the current offset after a back-off; raise once the retries are spent."""
        self._drop_response()
        self._pause(error)
        self._connect(self._pos)

    def _connect(self, offset: int) -> None:
        """Open a response positioned at `offset`, retrying transient failures (5xx, refused, reset)."""
        while True:
            try:
                self._open(offset)
                return
            except _Transient as exc:
                self._drop_response()
                self._pause(str(exc))

    def _pause(self, error: str) -> None:
        """Count, report and wait before the next attempt; raise when no attempt is left."""
        if self.retries >= self.max_retries:
            raise RemoteInputError(f"{self.uri}: gave up after {self.retries} retries at byte {self._pos}: {error}")
        self.retries += 1
        if self.on_retry is not None:
            self.on_retry({"uri": self.uri, "offset": self._pos, "attempt": self.retries, "error": error})
        time.sleep(min(MAX_BACKOFF, self.backoff * 2 ** (self.retries - 1)))

    def _open(self, offset: int) -> None:
        headers = {"Accept-Encoding": "identity"}
        if offset and self._accepts_ranges:
            headers["Range"] = f"bytes={offset}-"
        try:
            request = self._client.build_request("GET", self.uri, headers=headers)
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _Transient(_one_line(exc)) from None
        except httpx.HTTPError as exc:  # invalid URL, too many redirects, ...
            raise RemoteInputError(f"{self.uri}: {_one_line(exc)}") from None
        status = response.status_code
        if status in _RETRY_STATUS:
            response.close()
            raise _Transient(f"HTTP {status} {response.reason_phrase}")
        if offset and status == 416:
            response.close()
            raise RemoteFileChanged(f"{self.uri}: the server no longer has byte {offset} (HTTP 416): the file changed")
        if status not in (200, 206) or (status == 206 and "Range" not in headers):
            response.close()
            raise RemoteInputError(f"{self.uri}: HTTP {status} {response.reason_phrase}".rstrip())
        try:
            skip = self._check(response, offset) if offset else self._first(response)
        except BaseException:
            response.close()
            raise
        self._response = response
        self._chunks = response.iter_raw()  # chunks as they arrive: a chunker would lose its buffer on a drop
        if skip:
            self._skip(skip)  # a drop while skipping is _Transient: _connect tries again

    def _first(self, response: httpx.Response) -> int:
        h = response.headers
        self._identity = {"etag": h.get("etag"), "last-modified": h.get("last-modified")}
        length = h.get("content-length")
        self.size = int(length) if length and length.isdigit() else None
        self._accepts_ranges = (h.get("accept-ranges") or "").strip().lower() != "none"
        return 0

    def _check(self, response: httpx.Response, offset: int) -> int:
        """Refuse a resumed response that is not the same file; return the bytes to skip (0 after a 206)."""
        h = response.headers
        for key, before in self._identity.items():
            after = h.get(key)
            if before != after:
                raise RemoteFileChanged(f"{self.uri}: the file changed while it was read ({key} {before!r} -> "
                                        f"{after!r} at byte {offset})")
        if response.status_code == 206:
            m = _CONTENT_RANGE.match(h.get("content-range") or "")
            if m is None or int(m.group(1)) != offset:
                raise RemoteInputError(f"{self.uri}: resumed at byte {offset} but the server sent "
                                       f"Content-Range {h.get('content-range')!r}")
            total = None if m.group(3) == "*" else int(m.group(3))
            if self.size is not None and total != self.size:
                raise RemoteFileChanged(f"{self.uri}: the file changed while it was read (length {self.size} -> "
                                        f"{total} at byte {offset})")
            return 0
        length = h.get("content-length")
        total = int(length) if length and length.isdigit() else None
        if total != self.size:
            raise RemoteFileChanged(f"{self.uri}: the file changed while it was read (length {self.size} -> "
                                    f"{total} at byte {offset})")
        self._accepts_ranges = False  # it ignored Range once: do not ask again
        return offset

    def _skip(self, n: int) -> None:
        """Discard the first `n` bytes of a full re-GET (server without Range support)."""
        assert self._chunks is not None
        while n > 0:
            try:
                chunk = next(self._chunks, None)
            except (httpx.TransportError, OSError) as exc:
                raise _Transient(f"connection lost while skipping to byte {self._pos}: {_one_line(exc)}") from None
            if chunk is None:
                raise _Transient(f"re-read ended before byte {self._pos}")
            if len(chunk) > n:
                self._buf = chunk[n:]
                return
            n -= len(chunk)

    def _drop_response(self) -> None:
        self._buf = b""
        self._chunks = None
        if self._response is not None:
            try:
                self._response.close()
            except Exception:  # closing a broken connection may itself fail; nothing to keep
                pass
            self._response = None


class _Transient(Exception):
    """A failure worth another attempt (connection error, 5xx, 429)."""


def open_stream(uri: str, *, retries: int = 5, backoff: float = 0.5,
                on_retry: Callable[[dict[str, Any]], None] | None = None) -> RemoteStream:
    """Open an http(s) URL for one sequential read, resuming after dropped connections.

    At most `retries` reconnections for the whole file (back-off `backoff * 2**(k-1)` seconds,
    capped at 30 s), each reported as `on_retry({"uri", "offset", "attempt", "error"})`.
    """
    if not uri.lower().startswith(("http://", "https://")):
        raise RemoteInputError(f"{uri}: open_stream reads http(s) URLs only (other schemes go through fsspec)")
    return RemoteStream(uri, retries=retries, backoff=backoff, on_retry=on_retry)
