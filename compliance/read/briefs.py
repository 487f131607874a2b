"""Reading a document's brief: its stored fields and the findings the run registered for it."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from compliance.read.results import mask_quote, personal_data_rules
from compliance.rules import masking
from compliance.vocab import UNRESOLVED

# Fields that may name a person, masked unless the reader asks for personal data.
PERSONAL_FIELDS = frozenset({"party", "person"})
# Order and labels of the fields as a brief shows them.
LABELS: dict[str, str] = {
    "kind": "Kind", "title": "Title", "party": "Party", "person": "Person",
    "agreement_date": "Agreement date", "effective_date": "Effective date",
    "document_date": "Date", "sent_date": "Sent", "governing_law": "Governing law",
    "renewal_term": "Renewal term", "notice_to_terminate_renewal": "Notice to stop renewal",
}


@dataclass(frozen=True)
class ShownField:
    """One brief field as shown: label, value, how it was found, where in the text."""

    field: str
    label: str
    value: str
    method: str
    char_start: int
    char_end: int


@dataclass(frozen=True)
class BriefRisk:
    """An open or confirmed finding of the document."""

    severity: str
    category: str
    page: int | None
    quote: str
    detected_by: str
    char_start: int | None = None  # where its chunk starts: the place in an unpaginated text

    @property
    def where(self) -> str:
        """p.N in a paginated document, else the character offset its chunk starts at."""
        if self.page:
            return f"p.{self.page}"
        return f"char {self.char_start}" if self.char_start is not None else "-"


@dataclass
class DocumentBrief:
    """What a reviewer reads first: the fields, the risks found, and the abstract if any."""

    doc_id: int
    fields: list[ShownField] = field(default_factory=list)
    risks: list[BriefRisk] = field(default_factory=list)

    @property
    def briefed(self) -> bool:
        return bool(self.fields)


def read_brief(conn: duckdb.DuckDBPyConnection, doc_id: int, unmask: bool = False
               ) -> DocumentBrief:
    """The document's brief fields (personal data masked unless `unmask`) and its risks."""
    order = {name: i for i, name in enumerate(LABELS)}
    rows = conn.execute(
        "SELECT field, seq, value, method, char_start, char_end FROM document_briefs "
        "WHERE doc_id = ?", [doc_id]).fetchall()
    rows.sort(key=lambda r: (order.get(r[0], len(order)), r[0], r[1]))
    brief = DocumentBrief(doc_id)
    for name, _seq, value, method, start, end in rows:
        if name in PERSONAL_FIELDS and not unmask:
            value = masking.mask(value, names=True)
        brief.fields.append(ShownField(name, LABELS.get(name, name), value, method, start, end))
    personal = personal_data_rules()
    for severity, category, page, quote, detected_by, detector, start in conn.execute(
            "SELECT f.severity, f.category, f.page, f.quote, f.detected_by, f.detector, "
            "c.char_start FROM findings f LEFT JOIN chunks c USING (chunk_id) "
            "WHERE f.doc_id = ? AND f.disposition IN (?, ?) "
            "ORDER BY f.severity_rank DESC, f.page NULLS LAST, c.char_start, f.finding_id",
            [doc_id, *UNRESOLVED]).fetchall():
        shown = mask_quote(quote, detected_by, detector, personal, unmask)
        brief.risks.append(BriefRisk(severity, category, page, shown, detected_by, start))
    return brief


def group_risks(risks: list[BriefRisk]) -> list[tuple[BriefRisk, int]]:
    """One line per category: its most severe finding (first in the text) and how many."""
    first: dict[str, BriefRisk] = {}
    counts: dict[str, int] = {}
    for risk in risks:  # already most severe first
        first.setdefault(risk.category, risk)
        counts[risk.category] = counts.get(risk.category, 0) + 1
    return [(risk, counts[category]) for category, risk in first.items()]


def format_brief(brief: DocumentBrief, quote_chars: int = 100) -> list[str]:
    """The brief as lines of text, for the terminal."""
    if not brief.briefed:
        return ["Brief: not built yet (the next `compliance run` builds it)"]
    lines = ["Brief"]
    for shown in brief.fields:
        lines.append(f"  {shown.label:<24} {shown.value}  [{shown.method}, "
                     f"chars {shown.char_start}-{shown.char_end}]")
    if brief.risks:
        lines.append(f"  Risks found ({len(brief.risks)} open findings)")
        for risk, count in group_risks(brief.risks):
            quote = " ".join(risk.quote.split())
            if len(quote) > quote_chars:
                quote = quote[:quote_chars - 1] + "…"
            lines.append(f"    {risk.severity:<8} {risk.category:<28} x{count:<3} "
                         f"{risk.where:<10} {quote}")
    else:
        lines.append("  Risks found              none open")
    return lines
