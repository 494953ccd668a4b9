"""Word documents (.docx) as Markdown: heading styles become `#` headings, list styles `-` items, tables pipe tables."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

from core.errors import BadFile
from core.knowledge.ingest.docx_checks import check_docx
from core.knowledge.ingest.formats.text import prose_document, scalar
from core.types import ParsedDocument


def parse_docx(data: bytes, path: Path) -> ParsedDocument:
    """Paragraphs, headings, list items and tables in reading order; damaged and empty documents are refused."""
    import docx
    from docx.table import Table

    check_docx(data, path.name)
    try:
        document = docx.Document(BytesIO(data))
        properties = document.core_properties
        meta_title, meta_subject = scalar(properties.title), scalar(properties.subject)
        parts: list[str] = []
        first_heading = ""
        styles: dict[str | None, tuple[int, bool]] = {}  # python-docx resolves a style slowly: once per style id
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                parts.append(_table(item))
                continue
            text = item.text.strip()
            if not text:
                continue
            if item._p.style not in styles:
                style_name = item.style.name if item.style is not None else ""
                styles[item._p.style] = (_heading_level(item), (style_name or "").lower().startswith("list"))
            level, listed = styles[item._p.style]
            if level:
                first_heading = first_heading or text
                parts.append(f"{'#' * level} {text}")
            elif listed:
                parts.append(f"- {text}")
            else:
                parts.append(text)
    except Exception as exc:  # a damaged .docx can fail in zipfile, lxml or python-docx
        raise BadFile(
            f"{path.name} is damaged and cannot be read as a Word document ({exc}): "
            "open it in Word or LibreOffice, save it again as .docx and upload it."
        ) from exc
    markdown = "\n\n".join(part for part in parts if part.strip())
    if not markdown:
        raise BadFile(f"{path.name} contains no text: upload the document with its content.")
    return prose_document(meta_title or first_heading or path.stem, meta_subject, markdown)


def _heading_level(paragraph: Any) -> int:
    """1-6 for Title and Heading N styles (and their outline levels), 0 for body text."""
    style = paragraph.style
    while style is not None:
        name = (style.name or "").lower()
        if name == "title":
            return 1
        match = re.fullmatch(r"heading (\d)", name)
        if match:
            return min(int(match.group(1)), 6)
        levels = style.element.xpath("./w:pPr/w:outlineLvl/@w:val")
        if levels and levels[0].isdigit() and int(levels[0]) < 9:
            return min(int(levels[0]) + 1, 6)
        style = style.base_style
    return 0


def _table(table: Any) -> str:
    """A Markdown pipe table, the first row as its header."""
    rows = [[" ".join(cell.text.split()).replace("|", "\\|") for cell in row.cells] for row in table.rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("---" for _ in rows[0]) + " |")
    return "\n".join(lines)
