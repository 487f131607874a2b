"""Zip containers: the zip-bomb check every zip-based format passes before anything is unpacked,
and the .zip adapter, whose files become attachments (child documents)."""

from __future__ import annotations

import io
import zipfile
import zlib

from compliance.extract.model import (
    ZIP_BOMB_MIN_BYTES,
    Attachment,
    ExtractionFailed,
    ExtractLimits,
    Parsed,
    Piece,
    size_words,
)
from compliance.vocab import DocumentStatus


def _ratio(unpacked: int, packed: int) -> str:
    return f"{unpacked / max(packed, 1):,.0f}:1"


def unpack_problem(data: bytes, limits: ExtractLimits) -> str | None:
    """Why a zip container must not be unpacked, judged from the sizes its directory declares.

    zipfile never inflates a member past its declared size, so the declared sizes bound what
    unpacking can cost: checking them reads the central directory only.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members)
    for member in members:
        if (member.file_size > ZIP_BOMB_MIN_BYTES
                and member.file_size > limits.max_zip_ratio * max(member.compress_size, 1)):
            return (f"zip bomb: {member.filename!r} declares {size_words(member.file_size)} "
                    f"uncompressed from {size_words(member.compress_size)} (ratio "
                    f"{_ratio(member.file_size, member.compress_size)}, over max_zip_ratio "
                    f"{limits.max_zip_ratio:g}); nothing was unpacked")
    if unpacked > limits.max_unpacked_bytes:
        return (f"declares {size_words(unpacked)} uncompressed from {size_words(packed)} (ratio "
                f"{_ratio(unpacked, packed)}), over the max_unpacked_mb limit of "
                f"{size_words(limits.max_unpacked_bytes)}; nothing was unpacked")
    return None


def extract_zip(data: bytes, limits: ExtractLimits) -> Parsed:
    """A zip archive: its list of files as text, and its files (up to max_attachments) as
    attachments; password-protected members are named, not read."""
    pieces: list[Piece] = []
    problems: list[str] = []
    attachments: list[Attachment] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = [member for member in archive.infolist() if not member.is_dir()]
        locked = [member for member in files if member.flag_bits & 0x1]
        if files and len(locked) == len(files):
            raise ExtractionFailed(DocumentStatus.ENCRYPTED,
                                   f"all {len(files)} files in the zip archive are "
                                   "password-protected")
        listing = [f"{member.filename} ({size_words(member.file_size)})" for member in files]
        pieces.append(Piece(f"Zip archive of {len(files)} files:\n" + "\n".join(listing),
                            "ArchiveListing"))
        readable = [member for member in files if not member.flag_bits & 0x1]
        for member in readable[:limits.max_attachments]:
            try:
                attachments.append(Attachment(member.filename, archive.read(member)))
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                problems.append(f"{member.filename!r} is damaged: {exc}")
    if locked:
        problems.append(f"{len(locked)} password-protected files not read: "
                        + ", ".join(member.filename for member in locked[:5]))
    if len(readable) > limits.max_attachments:
        problems.append(f"{len(readable) - limits.max_attachments} of {len(readable)} files not "
                        f"read (max_attachments {limits.max_attachments})")
    return Parsed(pieces, "zipfile", problems, attachments)
