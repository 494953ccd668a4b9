"""Read one uploaded file into a ParsedDocument: checks the bytes, then hands them to the parser of its format."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

from core.errors import BadFile
from core.knowledge.ingest.formats.docx import parse_docx
from core.knowledge.ingest.formats.html import parse_html
from core.knowledge.ingest.formats.markdown import parse_markdown
from core.knowledge.ingest.formats.openapi_file import parse_openapi_file
from core.knowledge.ingest.formats.pdf import parse_pdf
from core.knowledge.ingest.formats.text import parse_text
from core.types import ParsedDocument

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "mdx",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".json": "openapi",
    ".yaml": "openapi",
    ".yml": "openapi",
}
SUPPORTED = ", ".join(FORMATS)
PDF_MAGIC_WINDOW = 1024  # in a .pdf the header may follow a little junk; readers look this far
BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP image, WAV or AVI)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.doc/.xls/.ppt) or a password-protected one"),
    (b"\x7fELF", "a program (ELF executable)"),
)


def parse_file(path: Path, *, max_bytes: int = 20_000_000) -> ParsedDocument:
    """Parse one file, choosing the format by its content where that is cheap and by its extension otherwise."""
    name = path.name
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BadFile(
            f"{name}: Polydesk cannot ingest {path.suffix or 'extension-less'} files. "
            f"Supported extensions: {SUPPORTED}; convert the file to one of these and upload it again."
        )
    data = _read(path, max_bytes)
    if data.startswith(b"%PDF-") or (kind == "pdf" and data.find(b"%PDF-", 0, PDF_MAGIC_WINDOW) != -1):
        return parse_pdf(data, path)
    if data.startswith(b"PK\x03\x04"):
        members = _zip_members(data)
        if "word/document.xml" in members or (kind == "docx" and not members):
            return parse_docx(data, path)
        raise BadFile(
            f"{name} is a ZIP archive (or an Excel, PowerPoint or OpenDocument file), which Polydesk cannot ingest. "
            f"Unpack it or export its text, and upload files with these extensions: {SUPPORTED}."
        )
    if kind in ("pdf", "docx"):
        found = _binary_kind(data)
        looks = f"it looks like {found}" if found else "its content does not match the extension"
        expected = "a PDF starts with %PDF-" if kind == "pdf" else "a .docx file is a ZIP archive"
        raise BadFile(
            f"{name} is not a real {path.suffix} file ({expected}; {looks}). "
            "The file may be damaged or renamed: export it again from the program that made it."
        )
    text = _decode(data, name)
    if kind in ("markdown", "mdx"):
        return parse_markdown(text, path, is_mdx=kind == "mdx")
    if kind == "html":
        return parse_html(text, path)
    if kind == "openapi":
        return parse_openapi_file(text, path)
    return parse_text(text, path)


def _read(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing missing, oversized and empty files."""
    name = path.name
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise BadFile(f"{name} is a folder, not a file: upload the files inside it instead.")
        if size > max_bytes:
            raise BadFile(_too_big(name, size, max_bytes))
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise BadFile(f"{name} does not exist (was it moved or deleted?): upload it again.") from exc
    except OSError as exc:
        raise BadFile(f"{name} cannot be read ({exc.strerror}): check that the file is readable.") from exc
    if len(data) > max_bytes:
        raise BadFile(_too_big(name, len(data), max_bytes))
    if not data:
        raise BadFile(f"{name} is empty (0 bytes): upload the file with its content.")
    return data


def _too_big(name: str, size: int, max_bytes: int) -> str:
    """The message for a file over the size limit."""
    return (
        f"{name} is {size / 1e6:.1f} MB, over the limit of {max_bytes / 1e6:.1f} MB for one file: "
        "split it into smaller files, or raise the limit with the setting POLYDESK_MAX_FILE_MB."
    )


def _binary_kind(data: bytes) -> str | None:
    """What a binary file looks like from its first bytes, e.g. 'a PNG image'; None when unknown."""
    return next((what for magic, what in BINARY_SIGNATURES if data.startswith(magic)), None)


def _decode(data: bytes, name: str) -> str:
    """Strict UTF-8 text (a BOM is dropped, newlines normalised); binary data and other encodings are refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadFile(f"{name} is UTF-16 text; Polydesk reads UTF-8: re-save the file as UTF-8 and upload it again.")
    found = _binary_kind(data)
    nul = data.find(b"\x00")
    if found or nul != -1:
        what = f"it looks like {found}" if found else f"it contains binary data (a NUL byte at offset {nul})"
        raise BadFile(
            f"{name} is not a text file: {what}. Upload the document itself, saved as UTF-8 text "
            f"(or as PDF/DOCX), with a matching extension ({SUPPORTED})."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadFile(
            f"{name} is not valid UTF-8: byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line}) cannot be "
            "decoded; the file is probably in another encoding (such as Windows-1252 or Shift JIS). "
            "Re-save it as UTF-8 (in most editors: Save As, Encoding: UTF-8) and upload it again."
        ) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadFile(f"{name} contains only whitespace: upload the file with its content.")
    return text


def _zip_members(data: bytes) -> set[str]:
    """The names inside a ZIP archive (a Word document holds word/document.xml); empty when it is damaged."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return set(archive.namelist())
    except zipfile.BadZipFile:
        return set()
