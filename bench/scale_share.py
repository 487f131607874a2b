"""A synthetic document share of N files for scale benchmarks, generated deterministically.

    .venv/bin/python bench/scale_share.py OUT_DIR [--files 1000] [--seed 16] [--dup-share 0.2]

The share mixes PDF, DOCX, HTML, EML (some with PDF/DOCX/TXT attachments), TXT and MD in
department/year folders. Text is real: CUAD contract paragraphs
(../shared/corpus/contracts/cuad_train.jsonl), the Common Paper / FDA markdown files and the
Enron e-mail bodies of ../shared/corpus/formats/ (see PROVENANCE.md there for licences). Most
files hold 2-50 KB of text, about 6% 50-200 KB and about 1% 0.2-1 MB. A share of the files
(--dup-share, 10-30%) are duplicates: half byte-identical copies under another path, half near
duplicates (the same text with a few words changed, sometimes in another format). Most
documents end with one of a few shared disclaimers (boilerplate).

The same seed and file count give byte-identical files. The manifest (what each file is and
of which document it is a copy) is written beside OUT_DIR, not inside it, so that the pipeline
does not ingest it.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import math
import random
import re
import textwrap
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
CUAD_TRAIN = CORPUS / "contracts" / "cuad_train.jsonl"
FORMATS = CORPUS / "formats"

# The share of unique documents per format (duplicates keep their original's format, or not).
FORMAT_MIX = {"pdf": 0.25, "docx": 0.20, "eml": 0.20, "html": 0.13, "txt": 0.12, "md": 0.10}
EMAIL_ATTACHMENT_SHARE = 0.3
DEPARTMENTS = ("legal", "finance", "procurement", "hr", "compliance", "sales")
YEARS = tuple(range(2015, 2025))
PEOPLE = ("kay.mann", "j.ortiz", "a.nakamura", "p.kelly", "m.osei", "l.fischer", "r.banerjee",
          "s.dubois", "t.okafor", "e.lindqvist")
COMPANIES = ("Norvale Pharma", "Halden Logistics", "Brightwater Energy", "Kestrel Systems",
             "Aldous & Finch LLP", "Meridian Retail", "Corvid Analytics", "Tamsin Foods",
             "Orrin Medical", "Velta Capital")
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DATE = datetime(2024, 4, 15, 9, 30)

# Shared boilerplate: most documents end with one of these (e-mails mostly with the last).
DISCLAIMERS = (
    "CONFIDENTIALITY NOTICE: This document contains confidential and proprietary information "
    "of the Company and is intended solely for the use of the addressee. Any review, "
    "retransmission, dissemination or other use of this information by persons other than "
    "the intended recipient is prohibited. If you have received this in error, please "
    "notify the sender and destroy all copies.",
    "PRIVILEGED AND CONFIDENTIAL - ATTORNEY WORK PRODUCT. Prepared at the direction of counsel "
    "in anticipation of litigation. Do not forward, copy or distribute without the prior "
    "written approval of the Legal Department.",
    "This e-mail and any attachments are confidential and may be privileged. If you are not "
    "the intended recipient, please notify the sender immediately by replying to this message "
    "and delete it from your system. E-mail transmission cannot be guaranteed to be secure or "
    "error-free; the sender accepts no liability for any errors or omissions.",
)
# Word swaps that keep legal text readable: applied per document so reused paragraphs differ.
SYNONYMS = {
    "shall": "will", "Agreement": "Contract", "pursuant to": "under", "herein": "in this "
    "document", "provided that": "so long as", "terminate": "end", "prior to": "before",
    "notwithstanding": "despite", "thereof": "of it", "hereunder": "under this Agreement",
    "commercially reasonable": "reasonable", "in writing": "by written notice",
    "Party": "party", "Company": "Corporation", "including": "including without limitation",
    "upon": "on", "such": "that", "obligations": "duties", "written notice": "notice in "
    "writing", "days": "calendar days",
}
_NUMBER = re.compile(r"\d+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u2028]+")
_WORD = re.compile(r"[A-Za-z]{5,}")
# WinAnsi (cp1252) has most of CUAD's odd characters; these are the ones it lacks.
_PDF_TEXT = str.maketrans({"\u25cf": "\u2022", "\u25cb": "o", "\u2011": "-", "\u2502": "|",
                           "\u00ad": ""})


@dataclass
class Doc:
    """One unique document's text: a title and paragraphs, before it is given a format."""

    title: str
    paragraphs: list[str]
    kind: str  # the contract type, "memo" or "mail"

    @property
    def chars(self) -> int:
        """Characters of text, paragraph breaks included."""
        return len(self.title) + sum(len(p) + 2 for p in self.paragraphs)


@dataclass
class FileEntry:
    """One file of the share, as the manifest records it."""

    path: str
    fmt: str
    role: str  # unique, exact_duplicate, near_duplicate
    text_chars: int
    size_bytes: int = 0
    copy_of: str | None = None
    attachments: list[str] = field(default_factory=list)


class TextSource:
    """Real paragraphs, handed out in order so that reuse (and its perturbation) comes late."""

    def __init__(self, rng: random.Random, jsonl: Path = CUAD_TRAIN) -> None:
        contracts: list[tuple[str, list[str]]] = []
        with jsonl.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                paragraphs = [_SPACES.sub(" ", p).strip()
                              for p in _PARAGRAPH_BREAK.split(record["text"])]
                paragraphs = [p for p in paragraphs if len(p) > 1]
                if paragraphs:
                    contracts.append((record.get("contract_type") or "Agreement", paragraphs))
        rng.shuffle(contracts)
        self.pool = [(kind, p) for kind, paragraphs in contracts for p in paragraphs]
        self.cursor = 0
        self.rounds = 0  # 1 once every paragraph has been handed out
        self.reused = 0  # paragraphs handed out again, drawn at random
        self.mail_bodies = _enron_bodies()
        self.markdown = _markdown_paragraphs()

    def take(self, chars: int, rng: random.Random) -> tuple[str, list[str]]:
        """About `chars` characters of paragraphs and the contract type they start in.

        The first pass over the pool hands out consecutive paragraphs (a contract reads in
        order). Once the pool has gone round, paragraphs are drawn from anywhere in it and a
        per-document set of word swaps is applied, so that a later document neither repeats
        an earlier one's run of paragraphs (a false near-duplicate) nor its paragraphs byte
        for byte (false boilerplate). Numbers are redrawn every time.
        """
        swaps = ([(old, new) for old, new in SYNONYMS.items() if rng.random() < 0.5]
                 if self.rounds else [])
        kind = self.pool[self.cursor if not self.rounds else rng.randrange(len(self.pool))][0]
        out: list[str] = []
        taken = 0
        while taken < chars:
            if self.rounds:
                paragraph = self.pool[rng.randrange(len(self.pool))][1]
                self.reused += 1
            else:
                paragraph = self.pool[self.cursor][1]
                self.cursor += 1
                if self.cursor == len(self.pool):
                    self.rounds = 1
            for old, new in swaps:
                paragraph = paragraph.replace(old, new)
            paragraph = _NUMBER.sub(lambda m: str(rng.randrange(1, 10 ** len(m.group()))),
                                    paragraph)
            out.append(paragraph)
            taken += len(paragraph) + 2
        return kind, out


def _enron_bodies() -> list[str]:
    """Bodies of the real Enron e-mails in the corpus (used as cover notes)."""
    import email
    from email import policy

    bodies = []
    for path in sorted((FORMATS / "eml").glob("enron__*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        part = message.get_body(("plain",))
        if part is not None and part.get_content().strip():
            bodies.append(part.get_content().strip())
    return bodies or ["Please see the attached document and let me know your comments."]


def _markdown_paragraphs() -> list[str]:
    """Paragraphs of the corpus's real Markdown files (Common Paper NDA, FDA letters)."""
    out: list[str] = []
    for path in sorted((FORMATS / "md").glob("*.md")):
        out.extend(p.strip() for p in _PARAGRAPH_BREAK.split(path.read_text(encoding="utf-8"))
                   if p.strip())
    return out


def text_size(rng: random.Random, fmt: str) -> int:
    """A document's text size in characters: mostly 2-50 KB, a few larger (log-uniform)."""
    draw = rng.random()
    if fmt == "eml":
        low, high = (500, 8_000) if draw < 0.97 else (8_000, 60_000)
    elif draw < 0.93:
        low, high = 2_000, 50_000
    elif draw < 0.99:
        low, high = 50_000, 200_000
    else:
        low, high = 200_000, 1_000_000
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def make_doc(source: TextSource, rng: random.Random, fmt: str) -> Doc:
    """A unique document of a drawn size, with a title, parties and maybe a disclaimer."""
    kind, paragraphs = source.take(text_size(rng, fmt), rng)
    first, second = rng.sample(COMPANIES, 2)
    number = rng.randrange(1000, 99999)
    if fmt == "eml":
        title = f"{rng.choice(('Re: ', 'Fwd: ', ''))}{kind} with {second} - draft {number}"
        paragraphs = [rng.choice(source.mail_bodies), *paragraphs,
                      f"Regards,\n{rng.choice(PEOPLE)}\n{first}"]
        kind = "mail"
    else:
        title = f"{kind.upper()} No. {number}"
        preamble = (f"This {kind} (reference {number}) is made between {first} and {second} "
                    f"and is filed by the {rng.choice(DEPARTMENTS)} department.")
        paragraphs = [preamble, *paragraphs]
        if fmt == "md" and rng.random() < 0.5:  # policy-style notes quoting the real MD files
            start = rng.randrange(len(source.markdown))
            paragraphs += source.markdown[start:start + rng.randrange(3, 12)]
    draw = rng.random()
    if fmt == "eml":
        if draw < 0.8:
            paragraphs.append(DISCLAIMERS[2])
    elif draw < 0.5:
        paragraphs.append(DISCLAIMERS[0])
    elif draw < 0.65:
        paragraphs.append(DISCLAIMERS[1])
    return Doc(title, paragraphs, kind)


def near_copy(doc: Doc, rng: random.Random) -> Doc:
    """The same document with a few words changed (2-6 words in random paragraphs)."""
    paragraphs = list(doc.paragraphs)
    for _ in range(rng.randrange(2, 7)):
        index = rng.randrange(len(paragraphs))
        words = _WORD.findall(paragraphs[index])
        if not words:
            continue
        old = rng.choice(words)
        new = rng.choice(("revised", "amended", "updated", "corrected", "supplemental",
                          "interim", "restated", old.upper()))
        paragraphs[index] = paragraphs[index].replace(old, new, 1)
    return Doc(doc.title, paragraphs, doc.kind)


# ---------------------------------------------------------------------------- rendering


def render_txt(doc: Doc, rng: random.Random) -> bytes:
    """Plain UTF-8 text with blank lines between paragraphs."""
    return ("\n\n".join([doc.title, *doc.paragraphs]) + "\n").encode("utf-8")


def render_md(doc: Doc, rng: random.Random) -> bytes:
    """Markdown: a title, a heading every few paragraphs, the disclaimer in italics."""
    lines = [f"# {doc.title}", ""]
    for index, paragraph in enumerate(doc.paragraphs):
        if index and index % rng.randrange(4, 9) == 0:
            lines += [f"## Section {index // 4 + 1}", ""]
        lines += [f"_{paragraph}_" if paragraph in DISCLAIMERS else paragraph, ""]
    return "\n".join(lines).encode("utf-8")


def render_html(doc: Doc, rng: random.Random) -> bytes:
    """An intranet-style page: head, style, navigation, paragraphs, a footer."""
    body = "\n".join(
        f"<footer><p>{html.escape(p)}</p></footer>" if p in DISCLAIMERS
        else f"<p>{html.escape(p)}</p>" for p in doc.paragraphs)
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(doc.title)}</title>\n<style>body{{font-family:sans-serif;"
            f"max-width:50em}} nav a{{margin-right:1em}}</style></head>\n<body>\n"
            f"<nav><a href=\"/\">Home</a><a href=\"/legal\">Legal</a>"
            f"<a href=\"/policies\">Policies</a></nav>\n<h1>{html.escape(doc.title)}</h1>\n"
            f"{body}\n</body></html>\n")
    return page.encode("utf-8")


def _pdf_escape(line: str) -> bytes:
    """A line as a PDF string literal's bytes (WinAnsi; what it cannot hold becomes '?')."""
    data = line.translate(_PDF_TEXT).encode("cp1252", "replace")
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def render_pdf(doc: Doc, rng: random.Random) -> bytes:
    """A text PDF (Helvetica, WinAnsi, Flate-compressed pages, 54 lines a page), written with
    pypdf as tests/hostile_files.py does (no PDF-writing library is a dependency)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    lines: list[str] = []
    for paragraph in [doc.title, *doc.paragraphs]:
        for part in paragraph.split("\n"):
            lines.extend(textwrap.wrap(part, 95) or [""])
        lines.append("")
    per_page = 54
    pages = [lines[i:i + per_page] for i in range(0, len(lines), per_page)]
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))
    resources = writer._add_object(DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}))
    for number, page_lines in enumerate(pages, start=1):
        page = writer.add_blank_page(612, 792)
        content = bytearray(b"BT /F1 10 Tf 12 TL 60 740 Td\n")
        for line in page_lines:
            content += b"(" + _pdf_escape(line) + b") Tj T*\n"
        content += (b"ET\nBT /F1 8 Tf 60 40 Td (Page %d of %d) Tj ET\n"
                    % (number, len(pages)))
        stream = DecodedStreamObject()
        stream.set_data(bytes(content))
        page[NameObject("/Contents")] = writer._add_object(stream.flate_encode())
        page[NameObject("/Resources")] = resources
    writer.add_metadata({"/Title": doc.title, "/Producer": "bench/scale_share.py"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _normalise_zip(data: bytes) -> bytes:
    """The archive with sorted entries and fixed timestamps (python-docx stamps the time)."""
    out = io.BytesIO()
    with (zipfile.ZipFile(io.BytesIO(data)) as zin,
          zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zout):
        for name in sorted(zin.namelist()):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, zin.read(name))
    return out.getvalue()


def render_docx(doc: Doc, rng: random.Random) -> bytes:
    """A Word document (python-docx): title, headings every few paragraphs, fixed metadata."""
    from docx import Document

    document = Document()
    props = document.core_properties
    props.title, props.author, props.revision = doc.title, rng.choice(PEOPLE), 1
    props.created = props.modified = props.last_printed = FIXED_DATE
    document.add_heading(doc.title, level=0)
    for index, paragraph in enumerate(doc.paragraphs):
        if index and index % 7 == 0:
            document.add_heading(f"Article {index // 7}", level=1)
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return _normalise_zip(buffer.getvalue())


RENDERERS = {"pdf": render_pdf, "docx": render_docx, "html": render_html, "txt": render_txt,
             "md": render_md}


def render_eml(doc: Doc, rng: random.Random, index: int,
               attachments: list[tuple[str, bytes]]) -> bytes:
    """An RFC 5322 message: fixed headers and boundary, text body, optional attachments."""
    message = EmailMessage()
    sender, *recipients = rng.sample(PEOPLE, 3)
    message["From"] = f"{sender}@example.com"
    message["To"] = ", ".join(f"{person}@example.com" for person in recipients)
    message["Subject"] = doc.title
    sent = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(5_000_000))
    message["Date"] = format_datetime(sent)
    message["Message-ID"] = f"<share.{index}.{rng.randrange(10 ** 9)}@example.com>"
    message.set_content("\n\n".join(doc.paragraphs) + "\n")
    types = {"pdf": ("application", "pdf"), "txt": ("text", "plain"),
             "docx": ("application",
                      "vnd.openxmlformats-officedocument.wordprocessingml.document")}
    for name, data in attachments:
        maintype, subtype = types[name.rsplit(".", 1)[1]]
        if maintype == "text":
            message.add_attachment(data.decode("utf-8"), subtype=subtype, filename=name)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    if attachments:  # the generator would draw a random boundary
        message.set_boundary(f"=={index:06d}-share-boundary==")
    return message.as_bytes()


# ---------------------------------------------------------------------------- the share


def _slug(text: str, limit: int = 40) -> str:
    """A file-name-safe lower-case slug."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "document"


def _draw_format(rng: random.Random) -> str:
    """A format drawn from FORMAT_MIX."""
    return rng.choices(list(FORMAT_MIX), weights=list(FORMAT_MIX.values()))[0]


def generate_share(out: Path, files: int, seed: int = 16, dup_share: float = 0.2,
                   manifest: Path | None = None) -> dict[str, object]:
    """Write `files` files under `out` (which must be empty or absent); a summary of them."""
    if not 0 <= dup_share <= 0.5:
        raise ValueError("dup_share must be between 0 and 0.5")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise ValueError(f"{out} is not empty")
    rng = random.Random(seed)
    source = TextSource(random.Random(f"{seed}:pool"))
    duplicates = round(files * dup_share)
    unique = files - duplicates
    entries: list[FileEntry] = []
    docs: list[tuple[Doc, str, bytes]] = []  # unique documents: text, path, bytes
    used: set[str] = set()

    def place(folder: str, stem: str, fmt: str) -> str:
        """A free relative path in folder for stem.fmt."""
        path, extra = f"{folder}/{stem}.{fmt}", 2
        while path in used:
            path, extra = f"{folder}/{stem}-{extra}.{fmt}", extra + 1
        used.add(path)
        return path

    def write(path: str, data: bytes) -> None:
        """Write one file, creating its folder."""
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def folder_for(fmt: str, doc_rng: random.Random) -> str:
        """Department/year folders; e-mail in per-person mailbox folders."""
        year = doc_rng.choice(YEARS)
        if fmt == "eml":
            return f"mail/{doc_rng.choice(PEOPLE)}/{year}"
        return f"{doc_rng.choice(DEPARTMENTS)}/{year}"

    for index in range(unique):
        fmt = _draw_format(rng)
        doc_rng = random.Random(f"{seed}:doc:{index}")
        doc = make_doc(source, doc_rng, fmt)
        attached: list[str] = []
        if fmt == "eml":
            attachments: list[tuple[str, bytes]] = []
            if doc_rng.random() < EMAIL_ATTACHMENT_SHARE:
                for _ in range(doc_rng.choice((1, 1, 2))):
                    if docs and doc_rng.random() < 0.5:  # a file of the share, sent around
                        other, other_path, other_data = doc_rng.choice(docs)
                        name = other_path.rsplit("/", 1)[1]
                        if name.endswith((".pdf", ".docx", ".txt")):
                            attachments.append((name, other_data))
                            continue
                    kind = doc_rng.choice(("pdf", "docx", "txt"))
                    extra = make_doc(source, doc_rng, kind)
                    attachments.append((f"{_slug(extra.title)}.{kind}",
                                        RENDERERS[kind](extra, doc_rng)))
            attached = [name for name, _ in attachments]
            data = render_eml(doc, doc_rng, index, attachments)
        else:
            data = RENDERERS[fmt](doc, doc_rng)
        path = place(folder_for(fmt, doc_rng), f"{_slug(doc.title)}-{index:05d}", fmt)
        write(path, data)
        docs.append((doc, path, data))
        entries.append(FileEntry(path, fmt, "unique", doc.chars, len(data),
                                 attachments=attached))
    for index in range(duplicates):
        dup_rng = random.Random(f"{seed}:dup:{index}")
        doc, original, data = dup_rng.choice(docs)
        fmt = original.rsplit(".", 1)[1]
        stem = original.rsplit("/", 1)[1].rsplit(".", 1)[0]
        folder = dup_rng.choice(("archive", "shared/drafts", folder_for(fmt, dup_rng)))
        if index % 2 == 0:  # byte-identical copy elsewhere
            path = place(folder, dup_rng.choice((stem, f"copy-of-{stem}")), fmt)
            write(path, data)
            entries.append(FileEntry(path, fmt, "exact_duplicate", doc.chars, len(data),
                                     copy_of=original))
            continue
        changed = near_copy(doc, dup_rng)
        if fmt != "eml" and dup_rng.random() < 0.3:  # the same text saved in another format
            fmt = dup_rng.choice([f for f in RENDERERS if f != fmt])
        new = (render_eml(changed, dup_rng, unique + index, []) if fmt == "eml"
               else RENDERERS[fmt](changed, dup_rng))
        path = place(folder, f"{stem}-v{dup_rng.randrange(2, 5)}", fmt)
        write(path, new)
        entries.append(FileEntry(path, fmt, "near_duplicate", changed.chars, len(new),
                                 copy_of=original))
    summary = summarize(entries)
    summary.update(seed=seed, dup_share=dup_share, pool_chars=sum(len(p) for _, p in source.pool),
                   reused_paragraphs=source.reused)
    target = manifest or out.parent / f"{out.name}.manifest.json"
    target.write_text(json.dumps({"summary": summary, "files": [asdict(e) for e in entries]},
                                 indent=1) + "\n")
    return summary


def summarize(entries: list[FileEntry]) -> dict[str, object]:
    """Counts by format and role, bytes and text sizes of a share."""
    sizes = sorted(entry.text_chars for entry in entries)
    return {
        "files": len(entries),
        "by_format": dict(sorted(Counter(e.fmt for e in entries).items())),
        "by_role": dict(sorted(Counter(e.role for e in entries).items())),
        "emails_with_attachments": sum(1 for e in entries if e.attachments),
        "bytes": sum(e.size_bytes for e in entries),
        "text_chars": sum(sizes),
        "text_kb_median": round(sizes[len(sizes) // 2] / 1000, 1) if sizes else 0,
        "text_kb_max": round(sizes[-1] / 1000, 1) if sizes else 0,
        "over_50kb": sum(1 for s in sizes if s > 50_000),
    }


def main() -> None:
    """Generate a share from the command line and print its summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--dup-share", type=float, default=0.2,
                        help="share of files that are exact or near duplicates (0.1-0.3)")
    parser.add_argument("--manifest", type=Path, help="default: OUT.manifest.json beside OUT")
    args = parser.parse_args()
    print(json.dumps(generate_share(args.out, args.files, args.seed, args.dup_share,
                                    args.manifest), indent=1))


if __name__ == "__main__":
    main()
