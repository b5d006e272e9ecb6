"""Uploads streamed straight into the encrypted diary: the request body is parsed as it
arrives (multipart/form-data) and the file's bytes are handed, chunk by chunk, to a worker
thread that writes them into the store. Nothing is written to a temporary file and at most a
few chunks are held in memory, whatever the size of the upload.

(Starlette's own form parser spools large files to a plaintext temporary file on disk, so it
is never used for uploads.)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar, cast

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from docket.errors import InputError

T = TypeVar("T")
_END = object()
QUEUE_CHUNKS = 8


class UploadError(InputError):
    code = "upload_failed"


class _QueueReader(io.RawIOBase):
    """The worker's side: reads what the request side puts in the queue."""

    def __init__(self, q: queue.Queue[object]) -> None:
        self._q = q
        self._buffer = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buffer and not self._done:
            item = self._q.get()
            if item is _END:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise UploadError(
                    "The upload stopped before the whole file arrived, so nothing was kept.",
                    cause="The browser page was closed or the connection dropped.",
                    hint="Try the upload again.",
                ) from item
            else:
                self._buffer = memoryview(cast(bytes, item))
        n = min(len(b), len(self._buffer))
        b[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    size: int = 0


async def receive_file(
    request: Request,
    field_name: str,
    store: Callable[[BinaryIO, Received], T],
    *,
    before_file: Callable[[Received], None] | None = None,
    wait_for_store: bool = True,
) -> tuple[Received, T | None]:
    """Parse the request's multipart body; the one file in ``field_name`` is passed as a
    stream to ``store`` (run in a worker thread) together with the text fields that came
    before it in the form. ``before_file`` may check those fields (and raise) first. With
    ``wait_for_store`` False, this returns once the whole body has been handed over, and
    ``store`` goes on in the background (its result is then None)."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(
            "No file arrived.", hint="Choose a file with the button, then press the upload button."
        )
    loop = asyncio.get_running_loop()
    q: queue.Queue[object] = queue.Queue(maxsize=QUEUE_CHUNKS)
    got = Received()
    state: dict[str, Any] = {"name": None, "filename": None, "value": bytearray(), "file": False}
    worker: asyncio.Future[T] | None = None
    pending: list[bytes] = []

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header"] = state.get("header", b"") + data[start:end]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = state.get("field", b"") + data[start:end]

    def on_header_end() -> None:
        name = state.pop("field", b"").lower()
        value = state.pop("header", b"")
        if name == b"content-disposition":
            _, opts = parse_options_header(value)
            state["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
            fn = opts.get(b"filename")
            state["filename"] = None if fn is None else fn.decode("utf-8", "replace")

    def on_headers_finished() -> None:
        state["file"] = state["name"] == field_name and bool(state["filename"])
        state["value"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["file"]:
            pending.append(bytes(data[start:end]))
        else:
            state["value"] += data[start:end]
            if len(state["value"]) > 64 * 1024:
                raise UploadError("A form field was too long.")

    def on_part_end() -> None:
        if not state["file"] and state["name"]:
            got.fields[state["name"]] = state["value"].decode("utf-8", "replace")
        state["name"] = None

    callbacks: Any = {
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(params[b"boundary"], callbacks)

    async def put(item: object) -> None:
        """Hand an item to the worker, waiting while its queue is full; if the worker has
        stopped (it failed), its error is raised here."""
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                assert worker is not None
                if worker.done():
                    await worker
                    raise UploadError("The file could not be stored.") from None
                await asyncio.sleep(0.005)

    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if state["file"] and worker is None:
                got.filename = state["filename"] or "upload"
                if before_file is not None:
                    before_file(got)
                reader = cast(BinaryIO, io.BufferedReader(_QueueReader(q), 1024 * 1024))
                worker = loop.run_in_executor(None, store, reader, got)
            for piece in pending:
                got.size += len(piece)
                await put(piece)
            pending.clear()
        parser.finalize()
    except BaseException as exc:
        if worker is not None and not worker.done():
            with contextlib.suppress(BaseException):
                await put(exc)
            with contextlib.suppress(BaseException):
                await worker  # it rolls back; the cause is `exc`
        raise
    if worker is None:
        raise UploadError(
            "No file arrived.", hint="Choose a file with the button, then press the upload button."
        )
    await put(_END)
    if not wait_for_store:
        return got, None
    return got, await worker
