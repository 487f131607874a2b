"""Format sniffing: which format a file is, from its bytes (magic numbers, zip members, OLE
streams, e-mail headers); the extension only breaks ties between text kinds."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

# The formats an adapter exists for; anything else sniffed is stored as unsupported.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{1,40}:[ \t]?")
_EMAIL_HEADERS = {b"from", b"to", b"subject", b"received", b"message-id", b"mime-version",
                  b"return-path", b"date", b"delivered-to", b"reply-to", b"cc"}


def _looks_like_email(head: bytes) -> bool:
    lines = head.lstrip().splitlines()[:13]
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]  # an mbox separator line before the headers
    names = set()
    for line in lines:
        if not line.strip():
            break
        if _HEADER_LINE.match(line):
            names.add(line.split(b":", 1)[0].strip().lower())
        elif not line[:1].isspace():
            return False
    return len(names & _EMAIL_HEADERS) >= 2


def _decode_head(head: bytes) -> str | None:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="ignore")
    if b"\x00" in head[:4096]:
        return None
    return head.decode("utf-8", errors="ignore")


def _ole_format(data: bytes, ext: str) -> tuple[str, str | None]:
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:
        return ext or "ole", f"unreadable OLE container: {exc}"
    names = {"/".join(parts) for parts in ole.listdir(streams=True, storages=True)}
    ole.close()
    if "EncryptedPackage" in names:
        return (ext if ext in ("docx", "pptx", "xlsx") else "ooxml"), "encrypted"
    if "__properties_version1.0" in names or any(n.startswith("__substg1.0_") for n in names):
        return "msg", None
    if "WordDocument" in names:
        return "doc", None
    if "PowerPoint Document" in names:
        return "ppt", None
    if "Workbook" in names or "Book" in names:
        return "xls", None
    return "ole", None


def sniff_format(data: bytes, filename: str) -> tuple[str, str | None]:
    """The format of a file from its bytes (the extension only breaks ties between text kinds).

    Returns (format, problem): problem is 'encrypted' or a reason the container is unreadable.
    """
    ext = Path(filename).suffix.lower().lstrip(".")
    head = data[:8192]
    marker = head.find(b"%PDF-")
    # The header may follow up to 1 KB of junk, but text that merely mentions it is no PDF.
    if marker == 0 or (0 < marker < 1024 and re.search(rb"\d+\s+\d+\s+obj\b", data[:1 << 20])):
        return "pdf", None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            return (ext if ext in ("docx", "pptx", "xlsx") else "zip"), f"damaged zip: {exc}"
        if "word/document.xml" in names:
            return "docx", None
        if "ppt/presentation.xml" in names:
            return "pptx", None
        if "xl/workbook.xml" in names:
            return "xlsx", None
        return "zip", None
    if head.startswith(_OLE_MAGIC):
        return _ole_format(data, ext)
    for magic, fmt in ((b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF8", "gif"),
                       (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"{\\rtf", "rtf")):
        if head.startswith(magic):
            return fmt, None
    text = _decode_head(head)
    if text is None:
        return "binary", None
    # Headers first: an e-mail with an HTML body is still an e-mail.
    if _looks_like_email(head if not head.startswith(b"\xef\xbb\xbf") else head[3:]):
        return "eml", None
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or re.search(r"<(html|body|head)[\s>]",
                                                                     lowered[:4096]):
        return "html", None
    if ext in ("md", "markdown", "mdown"):
        return "md", None
    return "txt", None
