"""PDF text layers read with PDFium, one prose block per page, each tagged with its 1-based page number."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from core.errors import BadFile
from core.knowledge.ingest.formats.text import scalar, short_line
from core.types import Block, ParsedDocument

PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe: one call at a time per process, whatever the document


def parse_pdf(data: bytes, path: Path) -> ParsedDocument:
    """Each page with text as a block with metadata ("page", "N"); encrypted, damaged and scanned PDFs are refused."""
    import pypdfium2 as pdfium

    name = path.name
    if b"%%EOF" not in data[-2048:]:
        raise BadFile(
            f"{name} is truncated or damaged (it lacks the %%EOF end marker of a complete PDF): "
            "download or export it again and upload the complete file."
        )
    with PDFIUM_LOCK:
        pages, metadata = _read_pages(pdfium, data, name)
    blocks = tuple(
        Block(text=text, kind="prose", metadata=(("page", str(number)),))
        for number, text in enumerate(pages, start=1)
        if text
    )
    if not blocks:
        raise BadFile(
            f"{name} has no text layer (it is probably scanned images of pages): run OCR on it "
            "(for example with ocrmypdf) or export it with text, then upload it again."
        )
    title = scalar(metadata.get("Title")) or short_line(blocks[0].text) or path.stem
    return ParsedDocument(title=title, description=scalar(metadata.get("Subject")), blocks=blocks)


def _read_pages(pdfium: Any, data: bytes, name: str) -> tuple[list[str], dict[str, str]]:
    """Every page's text and the document information; call with PDFIUM_LOCK held."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise BadFile(
                f"{name} is protected by a password: save a copy without password protection "
                "(for example print it to PDF) and upload that."
            ) from exc
        raise BadFile(
            f"{name} is damaged and cannot be read as a PDF ({exc}): export or download it again and upload it."
        ) from exc
    try:
        return [_page_text(document, index) for index in range(len(document))], document.get_metadata_dict()
    except Exception as exc:  # a damaged PDF can fail on any page
        raise BadFile(
            f"{name} is damaged and cannot be read as a PDF ({exc}): export or download it again and upload it."
        ) from exc
    finally:
        document.close()


def _page_text(document: Any, index: int) -> str:
    """One page's text with Unix newlines, NUL characters and surrounding blank space removed."""
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\ufffe", "").strip()
