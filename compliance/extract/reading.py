"""Reading a source file safely: regular files only (a FIFO swapped in would block forever),
never more than the size limit (a file may grow after it was listed), and every way the read
can fail put in words."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from compliance.extract.model import size_words
from compliance.vocab import DocumentStatus

_BLOCK = 1 << 20


class SourceUnreadable(Exception):
    """A source file could not be read; `status` is what its document row becomes."""

    def __init__(self, status: DocumentStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def unreadable(exc: OSError) -> SourceUnreadable:
    """The row an OS error while reading a file becomes: vanished files are 'removed'."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return SourceUnreadable(DocumentStatus.REMOVED, "file vanished while it was being read "
                                "(deleted or moved after it was listed)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return SourceUnreadable(DocumentStatus.CORRUPT, "cannot read the file: permission "
                                "denied (fix its permissions, then run with --verify-hashes)")
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return SourceUnreadable(DocumentStatus.CORRUPT, f"cannot read the file: {reason}")


@contextmanager
def _open_regular(path: str) -> Iterator[int]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise unreadable(exc) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceUnreadable(DocumentStatus.UNSUPPORTED,
                                   "not a regular file (a pipe, socket or device)")
        yield fd
    finally:
        os.close(fd)


def _blocks(fd: int, max_bytes: int) -> Iterator[bytes]:
    read = 0
    while True:
        try:
            block = os.read(fd, _BLOCK)
        except OSError as exc:
            raise unreadable(exc) from None
        if not block:
            return
        read += len(block)
        if read > max_bytes:
            raise SourceUnreadable(DocumentStatus.TOO_LARGE, f"file grew past the "
                                   f"{size_words(max_bytes)} limit (max_file_mb) while it was "
                                   "being read")
        yield block


def read_source(path: str, max_bytes: int) -> bytes:
    """A file's bytes, at most max_bytes; raises SourceUnreadable."""
    with _open_regular(path) as fd:
        return b"".join(_blocks(fd, max_bytes))


def hash_source(path: str, max_bytes: int) -> tuple[str, int, int]:
    """(sha256, size, mtime_ns) of a file read to its end, at most max_bytes; the size and time
    are those of the bytes hashed, not of the listing. Raises SourceUnreadable."""
    digest = hashlib.sha256()
    size = 0
    with _open_regular(path) as fd:
        for block in _blocks(fd, max_bytes):
            digest.update(block)
            size += len(block)
        mtime_ns = os.fstat(fd).st_mtime_ns
    return digest.hexdigest(), size, mtime_ns
