"""Recognising an evidence file's type from its first bytes, not from its name.

A file called photo.jpg may be anything; the report must say what it really is.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO, cast

SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
)
FTYP_BRANDS: dict[bytes, str] = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4V ": "video/mp4",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
}
HEAD_BYTES = 64


def sniff(head: bytes) -> str:
    """The media type for a file starting with ``head`` (at least its first 64 bytes)."""
    for offset, magic, media_type in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12], "application/octet-stream"
        )
    if head[4:8] == b"ftyp":
        return FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head[:2] == b"\xff\xfb" or head[:2] == b"\xff\xf3":
        return "audio/mpeg"
    if _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut off at the end of the sample is still text
        return exc.start >= len(head) - 3
    return True


def sniff_stream(stream: BinaryIO) -> tuple[str, BinaryIO]:
    """The media type of a stream that may not be seekable (an upload, a pipe), and a stream
    that reads it from the start: the bytes looked at are put back in front."""
    head = stream.read(HEAD_BYTES)
    return sniff(head), cast(BinaryIO, io.BufferedReader(_Prepended(head, stream)))


class _Prepended(io.RawIOBase):
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
