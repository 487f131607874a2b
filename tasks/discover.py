"""Find the files of a source folder: recursive, filtered by globs, safe from symlink loops."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceFile:
    """One file found under the source root, with the stat facts the pre-check compares."""

    rel_path: str
    size_bytes: int
    mtime_ns: int
    disk_path: str | None = None  # the name on disk, when it is not UTF-8 and rel_path cannot be


def storable_name(rel_path: str) -> str:
    """A path the database can hold: bytes that are not UTF-8 written as \\xff escapes."""
    try:
        rel_path.encode("utf-8")
    except UnicodeEncodeError:
        # os.walk decodes them as lone surrogates, which no UTF-8 column accepts.
        return rel_path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return rel_path


def matches_globs(rel_path: str, include: list[str], exclude: list[str]) -> bool:
    """True when a POSIX relative path is included and not excluded (fnmatch; `*` spans `/`)."""
    if include and not any(fnmatch.fnmatchcase(rel_path, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatchcase(rel_path, pattern) for pattern in exclude)


def discover_files(root: Path, include: list[str], exclude: list[str]) -> list[SourceFile]:
    """All regular files under root that pass the globs, each real directory visited once."""
    root = root.resolve()
    found: list[SourceFile] = []
    visited: set[tuple[int, int]] = set()
    for directory, subdirs, files in os.walk(root, followlinks=True):
        info = os.stat(directory)
        if (info.st_dev, info.st_ino) in visited:
            subdirs[:] = []  # a symlink back into a folder already walked: a loop
            continue
        visited.add((info.st_dev, info.st_ino))
        subdirs.sort()
        for name in sorted(files):
            path = Path(directory) / name
            disk_path = path.relative_to(root).as_posix()
            rel_path = storable_name(disk_path)
            if not matches_globs(rel_path, include, exclude):
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # a dangling symlink or a file deleted while walking
            if not path.is_file():
                continue
            found.append(SourceFile(rel_path, stat.st_size, stat.st_mtime_ns,
                                    None if rel_path == disk_path else disk_path))
    return found
