"""What an upload really is, from its first bytes, against what its extension promises."""

from __future__ import annotations

from pathlib import PurePosixPath

from core.knowledge.ingest.parse import BINARY_SIGNATURES, FORMATS, PDF_MAGIC_WINDOW, SUPPORTED

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
DOCX_MARKER = "word/document.xml"
TEXT_SNIFF_BYTES = 8192
OTHER_ARCHIVES = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)
SIGNATURES = (*BINARY_SIGNATURES, (b"%PDF-", "a PDF document"), *OTHER_ARCHIVES)


def looks_like(data: bytes) -> str | None:
    """What a binary file looks like from its first bytes, e.g. 'a PNG image'; None when unknown."""
    return next((what for magic, what in SIGNATURES if data.startswith(magic)), None)


def content_mismatch(name: str, head: bytes) -> str | None:
    """Why `head` (the first bytes of a non-ZIP file) does not match the extension of `name`; None when it does."""
    suffix = PurePosixPath(name).suffix.lower()
    kind = FORMATS[suffix]
    found = looks_like(head)
    looks = f"it looks like {found}" if found else "its content does not match the extension"
    if kind == "pdf":
        if head.find(b"%PDF-", 0, PDF_MAGIC_WINDOW) == -1 or (found and found != "a PDF document"):
            return f"{name} is not a real PDF (a PDF starts with %PDF-; {looks}): export it again as PDF, or rename it."
        return None
    if kind == "docx":
        return f"{name} is not a real Word document (a .docx file is a ZIP archive; {looks}): save it again as .docx."
    window = head[:TEXT_SNIFF_BYTES]
    if window.startswith((b"\xff\xfe", b"\xfe\xff")):
        return f"{name} is UTF-16 text; Polydesk reads UTF-8: re-save the file as UTF-8 and upload it again."
    if found or b"\x00" in window:
        what = looks if found else "it contains binary data (NUL bytes)"
        return (
            f"{name} is not a {suffix} text file: {what}. Upload the document itself with a matching extension "
            f"({SUPPORTED})."
        )
    return None
