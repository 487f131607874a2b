"""The Office Open XML adapters (.docx, .pptx) through unstructured, with the structural checks
of the package that the parsers silently skip over reported as problems."""

from __future__ import annotations

import io
import zipfile

from compliance.extract.model import Parsed, pieces_from_elements


def _ooxml_problems(data: bytes) -> list[str]:
    """Structural checks of an Office Open XML package that parsers silently skip over."""
    problems = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        if "[Content_Types].xml" not in names:
            problems.append("package has no [Content_Types].xml")
        if "_rels/.rels" not in names:
            problems.append("package has no _rels/.rels (malformed OOXML)")
        bad = archive.testzip()
        if bad:
            problems.append(f"damaged zip member {bad}")
    return problems


def _pptx_problems(data: bytes) -> list[str]:
    """Placeholders whose position cannot be resolved through their layout and master."""
    from pptx import Presentation

    problems = []
    presentation = Presentation(io.BytesIO(data))
    for number, slide in enumerate(presentation.slides, start=1):
        for shape in slide.shapes:
            if not shape.is_placeholder:
                continue
            geometry = (shape.left, shape.top, shape.width, shape.height)
            if any(value is None for value in geometry):
                problems.append(f"slide {number}: placeholder {shape.name!r} has no resolvable "
                                "geometry (broken layout inheritance)")
    return problems


def extract_docx(data: bytes) -> Parsed:
    """A Word document's elements (titles, paragraphs, lists, tables) and package problems."""
    from unstructured.partition.docx import partition_docx

    problems = _ooxml_problems(data)
    return Parsed(pieces_from_elements(partition_docx(file=io.BytesIO(data))), "unstructured",
                  problems)


def extract_pptx(data: bytes) -> Parsed:
    """A presentation's elements with slide numbers as pages, and package and layout problems."""
    from unstructured.partition.pptx import partition_pptx

    problems = _ooxml_problems(data) + _pptx_problems(data)
    return Parsed(pieces_from_elements(partition_pptx(file=io.BytesIO(data))), "unstructured",
                  problems)
