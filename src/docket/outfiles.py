"""Writing a file the person asked for (a report, a table, a safety sheet, a cleaned photo):
all at once or not at all (a hidden part-file renamed into place), readable only by them,
into a folder that must already exist."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from docket.errors import InputError


@contextlib.contextmanager
def private_file(out: Path, *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write; on leaving the block it replaces ``out`` whole (mode 0600),
    or, if the block raised, nothing at all is left behind. With ``overwrite`` False an
    existing file is never replaced (FileExistsError)."""
    out = out.expanduser()
    if not out.parent.is_dir():
        raise InputError(
            f"The folder {str(out.parent)!r} does not exist.",
            hint="Choose a folder that exists, or create it first.",
        )
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            tmp.replace(out)
        else:
            os.link(tmp, out)  # fails if out exists: never replaces a file
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_private(out: Path, data: bytes | Iterable[bytes], *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``out`` as ``private_file`` does; returns the path written."""
    with private_file(out, overwrite=overwrite) as fh:
        for piece in (data,) if isinstance(data, bytes) else data:
            fh.write(piece)
    return out.expanduser()
