"""Hostile and odd input files, generated into a folder at test time (never committed).

Each function writes one kind of file and returns its path; make_hostile_folder writes them all
and returns what each should become (accepted statuses and words its reason must contain).
"""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

MB = 1 << 20

_CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                  b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  b'<Default Extension="xml" ContentType="application/xml"/></Types>')
_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         b'relationships/officeDocument" Target="word/document.xml"/></Relationships>')


def allocate_mb(megabytes: int) -> int:
    """Worker function for the memory limit: hold `megabytes` at once, return how many."""
    block = bytearray(megabytes * MB)
    return len(block) // MB


def zip_bomb_docx(folder: Path, name: str = "bomb.docx", unpacked_mb: int = 200) -> Path:
    """A real zip bomb dressed as a Word document: word/document.xml inflates to unpacked_mb of
    zeros from about a thousandth of that (deflate's best ratio); headers tell the truth."""
    path = folder / name
    block = bytes(MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(unpacked_mb):
                member.write(block)
    return path


def lying_zip_docx(folder: Path, name: str = "declares-4gb.docx",
                   declared: int = 4_200_000_000) -> Path:
    """A Word-looking zip whose directory declares `declared` bytes for a member of a few bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", b"<w:document/>" * 3000)
    data = bytearray(buffer.getvalue())
    # Patch the uncompressed size in the member's local header and central directory entry.
    target = b"word/document.xml"
    local = data.rfind(b"PK\x03\x04", 0, data.find(target))
    struct.pack_into("<I", data, local + 22, declared)
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(target))
    struct.pack_into("<I", data, central + 24, declared)
    path = folder / name
    path.write_bytes(bytes(data))
    return path


def many_pages_pdf(folder: Path, name: str = "3000-pages.pdf", pages: int = 3000) -> Path:
    """A PDF of `pages` pages, each with one line of text naming its page number."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    resources = writer._add_object(DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}))
    for number in range(1, pages + 1):
        page = writer.add_blank_page(612, 792)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td (Page {number} of the long report.) Tj ET"
                        .encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = resources
    path = folder / name
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1; the first is the catalog), with a true
    cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, xref))
    return bytes(out)


def nested_pdf(folder: Path, name: str = "nested.pdf", depth: int = 20_000,
               kind: str = "array") -> Path:
    """A one-page PDF whose page dictionary holds an array (or dictionary) nested depth deep."""
    if kind == "array":
        nest = b"[" * depth + b"1" + b"]" * depth
    else:
        nest = b"<< /A " * depth + b"1" + b" >>" * depth
    content = b"BT /F1 12 Tf 72 720 Td (Nested but readable?) Tj ET"
    path = folder / name
    path.write_bytes(_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> /Nest " + nest + b" >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]))
    return path


def random_bytes(folder: Path, name: str, size: int = 64 * 1024, seed: int = 7) -> Path:
    """size random bytes under a name that promises a format."""
    path = folder / name
    path.write_bytes(random.Random(f"{seed}:{name}").randbytes(size))
    return path


def zero_byte(folder: Path, name: str = "zero.pdf") -> Path:
    """An empty file."""
    path = folder / name
    path.write_bytes(b"")
    return path


SCRIPT_WORDS = "autorenewscriptword"


def script_html(folder: Path, name: str = "scripts.html", scripts: int = 400) -> Path:
    """An HTML page that is mostly <script> (whose words must not become text) and one
    paragraph of real text."""
    script = (f"<script>var note = '{SCRIPT_WORDS} the agreement renews automatically';"
              "for (var i = 0; i < 10; i++) { document.title += i; }</script>\n")
    body = ("<html><head>" + script * (scripts // 2) + "</head><body>" + script * (scripts // 2)
            + "<p>The visible policy text: gifts above 50 EUR must be declared.</p>"
            + "<noscript>Please enable JavaScript.</noscript></body></html>")
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


INNERMOST_WORDS = "innermost forwarded note about the wire transfer"


def nested_email(folder: Path, name: str = "nested.eml") -> Path:
    """An e-mail with a zip attachment holding an e-mail that forwards another as
    message/rfc822: outer.eml > bundle.zip > inner.eml > forwarded message."""
    innermost = EmailMessage()
    innermost["From"], innermost["To"] = "carol@example.com", "dave@example.com"
    innermost["Subject"], innermost["Date"] = "Wire", "Mon, 2 Jun 2025 09:00:00 +0000"
    innermost.set_content(f"The {INNERMOST_WORDS} is attached to nothing at all.")
    inner = EmailMessage()
    inner["From"], inner["To"] = "bob@example.com", "alice@example.com"
    inner["Subject"], inner["Date"] = "Fwd: Wire", "Mon, 2 Jun 2025 10:00:00 +0000"
    inner.set_content("Forwarding the message below for the file.")
    inner.add_attachment(innermost)
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.eml", inner.as_bytes())
    outer = EmailMessage()
    outer["From"], outer["To"] = "alice@example.com", "legal@example.com"
    outer["Subject"], outer["Date"] = "The bundle", "Mon, 2 Jun 2025 11:00:00 +0000"
    outer.set_content("The bundle of messages you asked for is attached.")
    outer.add_attachment(bundle.getvalue(), maintype="application", subtype="zip",
                         filename="bundle.zip")
    path = folder / name
    path.write_bytes(outer.as_bytes())
    return path


def wide_email(folder: Path, name: str = "wide.eml", attachments: int = 30) -> Path:
    """An e-mail with many small text attachments (for the attachment count limit)."""
    message = EmailMessage()
    message["From"], message["To"] = "alice@example.com", "legal@example.com"
    message["Subject"], message["Date"] = "Many files", "Mon, 2 Jun 2025 11:00:00 +0000"
    message.set_content("Thirty notes are attached, one per clause we discussed.")
    for index in range(1, attachments + 1):
        message.add_attachment(f"Note {index}: clause {index} needs legal review.\n",
                               filename=f"note-{index:02d}.txt")
    path = folder / name
    path.write_bytes(message.as_bytes())
    return path


# Windows-1252 letters as Windows editors save them: curly quotes, the euro sign, a dash.
CP1252_MEMO_FR = ("Objet : r\u00e9siliation du contrat de prestation\n\nMadame, Monsieur,\n\n"
                  "Par la pr\u00e9sente, nous vous informons que le contrat sera renouvel\u00e9 "
                  "automatiquement \u00e0 l\u2019\u00e9ch\u00e9ance, sauf pr\u00e9avis de trois "
                  "mois. Les p\u00e9nalit\u00e9s de retard s\u2019\u00e9l\u00e8vent \u00e0 "
                  "1\u00a0500\u00a0\u20ac par jour. Veuillez agr\u00e9er nos salutations "
                  "distingu\u00e9es.\n")
CP1252_MEMO_EN = ("Dear Ms. O\u2019Brien,\n\nFurther to our meeting on 3 March, we confirm the "
                  "\u201cMaster Services Agreement\u201d renews automatically for successive "
                  "12-month terms unless either party gives 90 days\u2019 notice. The annual fee "
                  "is \u20ac48,500 \u2014 payable in advance. The caf\u00e9 supplier\u2019s "
                  "r\u00e9sum\u00e9 and the na\u00efve d\u00e9j\u00e0-vu clause are attached."
                  "\n\nKind regards,\nJos\u00e9 M\u00fcller\n")
UTF16_TEXT = "UTF-16 notice: the se\u00f1or\u2019s \u00fcber-contract renews in \u65e5\u672c.\n"


def cp1252_text(folder: Path, name: str = "cp1252.txt", text: str = CP1252_MEMO_FR) -> Path:
    """A text file in Windows-1252."""
    path = folder / name
    path.write_bytes(text.encode("cp1252"))
    return path


def utf16_text(folder: Path, name: str = "utf16.txt") -> Path:
    """A text file in UTF-16 little-endian with its byte order mark."""
    path = folder / name
    path.write_bytes((UTF16_TEXT * 4).encode("utf-16"))
    return path


ODD_NAMES = ["name with  spaces.txt", "\u00fcn\u00efc\u00f6d\u00e9 \u540d\u524d.txt",
             "line\nbreak.txt"]
UNDECODABLE_NAME = b"not-utf8-\xff\xfe.txt"


def odd_names(folder: Path) -> list[Path]:
    """Text files whose names hold spaces, Unicode, a newline and bytes that are not UTF-8."""
    paths = []
    for index, name in enumerate(ODD_NAMES):
        path = folder / name
        path.write_text(f"File {index} with an odd name: the policy applies to everyone.\n")
        paths.append(path)
    raw = os.path.join(os.fsencode(folder), UNDECODABLE_NAME)
    with open(raw, "wb") as handle:
        handle.write(b"A file whose name is not UTF-8: the policy still applies.\n")
    paths.append(Path(os.fsdecode(raw)))
    return paths


def symlink_loop(folder: Path) -> Path:
    """A folder holding one file and a link back to itself (a cycle for a naive walk)."""
    looped = folder / "looped"
    looped.mkdir()
    (looped / "inside.txt").write_text("The only file inside the looped folder.\n")
    os.symlink("..", looped / "back-up")
    return looped


def unreadable(folder: Path, name: str = "no-permission.txt") -> Path:
    """A file with no read permission (root reads it anyway)."""
    path = folder / name
    path.write_text("Nobody may read this file.\n")
    path.chmod(0)
    return path


@dataclass
class Expected:
    """What a generated file should become: accepted statuses and words its reason holds."""

    statuses: set[str]
    reason_words: tuple[str, ...] = ()


def make_hostile_folder(folder: Path) -> dict[str, Expected]:
    """Write every hostile file under folder; their expected outcomes by relative path."""
    folder.mkdir(parents=True, exist_ok=True)
    zip_bomb_docx(folder)
    lying_zip_docx(folder)
    many_pages_pdf(folder)
    nested_pdf(folder, "nested-arrays.pdf", kind="array")
    nested_pdf(folder, "nested-dicts.pdf", kind="dict")
    random_bytes(folder, "random.docx")
    random_bytes(folder, "random.pdf")
    zero_byte(folder)
    script_html(folder)
    nested_email(folder)
    wide_email(folder)
    cp1252_text(folder)
    utf16_text(folder)
    odd_names(folder)
    symlink_loop(folder)
    unreadable(folder)
    root = os.geteuid() == 0
    expected = {
        "bomb.docx": Expected({"too_large"}, ("zip bomb", "max_zip_ratio")),
        "declares-4gb.docx": Expected({"too_large"}, ("zip bomb", "declares 4.2 GB")),
        "3000-pages.pdf": Expected({"partial"}, ("2,000 of 3,000 pages", "max_pages")),
        "nested-arrays.pdf": Expected({"corrupt", "partial"}, ("nested too deeply",)),
        "nested-dicts.pdf": Expected({"ok"}),  # pypdf reads nested dictionaries in a loop
        "random.docx": Expected({"unsupported"}, ("no supported format", ".docx")),
        "random.pdf": Expected({"unsupported"}, ("no supported format", ".pdf")),
        "zero.pdf": Expected({"empty"}, ("no content",)),
        "scripts.html": Expected({"ok"}),
        "nested.eml": Expected({"ok"}),
        "wide.eml": Expected({"ok", "partial"}),
        "cp1252.txt": Expected({"ok"}),
        "utf16.txt": Expected({"ok"}),
        "looped/inside.txt": Expected({"ok"}),
        "no-permission.txt": (Expected({"ok"}) if root
                              else Expected({"corrupt"}, ("permission denied",))),
        "not-utf8-\\xff\\xfe.txt": Expected({"ok"}),
    }
    for name in ODD_NAMES:
        expected[name] = Expected({"ok"})
    return expected
