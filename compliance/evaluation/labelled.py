"""Labelled document sets: CUAD contracts (JSONL) and folders with a labels.jsonl beside them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from compliance.scoring.training import category_key


@dataclass(frozen=True)
class Label:
    """A span a reviewer marked: its category and its text (offsets when the set has them)."""

    category: str
    text: str
    tier: str = "primary"
    kind: str | None = None
    start: int | None = None


@dataclass
class LabelledDocument:
    """One document of a labelled set and what a reviewer marked in it."""

    doc_id: str
    file_name: str
    labels: list[Label]
    answers: dict[str, bool] = field(default_factory=dict)
    text: str | None = None
    source_file: Path | None = None

    def write_to(self, folder: Path) -> None:
        """Put the document into a source folder the pipeline can ingest."""
        target = folder / self.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.source_file is not None:
            shutil.copyfile(self.source_file, target)
        else:
            target.write_text(self.text or "", encoding="utf-8")


def load_cuad(path: Path, pdf: bool = False) -> list[LabelledDocument]:
    """CUAD records ({doc_id, text, labels, answers, pdf_copy}); with pdf, read the PDF copies."""
    documents = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            labels = [Label(category_key(item["category"]), item["text"], item.get("tier", ""),
                            start=item.get("start")) for item in record["labels"]]
            answers = {category_key(k): v == "Yes" for k, v in record.get("answers", {}).items()
                       if v in ("Yes", "No")}
            doc_id = record["doc_id"]
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}:{line_number}: not a CUAD record ({exc})") from exc
        if pdf:
            source = path.parent / record["pdf_copy"]
            if not source.is_file():
                raise FileNotFoundError(f"{path}:{line_number}: PDF copy {source} is missing")
            documents.append(LabelledDocument(doc_id, f"{doc_id}.pdf", labels, answers,
                                              source_file=source))
        else:
            documents.append(LabelledDocument(doc_id, f"{doc_id}.txt", labels, answers,
                                              text=record["text"]))
    return documents


def load_labelled_folder(folder: Path) -> list[LabelledDocument]:
    """A folder of documents with labels.jsonl: {file, labels: [{category, kind, text}]}."""
    index = folder / "labels.jsonl"
    documents = []
    for line_number, line in enumerate(index.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        source = folder / record["file"]
        if not source.is_file():
            raise FileNotFoundError(f"{index}:{line_number}: {source} is missing")
        labels = [Label(item["category"], item["text"], "primary", item.get("kind"))
                  for item in record["labels"]]
        documents.append(LabelledDocument(record["file"], record["file"], labels,
                                          source_file=source))
    return documents
