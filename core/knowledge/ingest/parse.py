"""Read one uploaded file (Markdown, MDX, HTML, PDF, DOCX, text, OpenAPI) into a ParsedDocument."""

from __future__ import annotations

import json
import re
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from core.errors import BadFile
from core.knowledge.chunk import split_anchor
from core.knowledge.ingest.docx_checks import check_docx
from core.knowledge.ingest.openapi import load_yaml, parse_openapi
from core.types import Block, ParsedDocument

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
MAX_TITLE_CHARS = 120
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
INCLUDE_MARKER = re.compile(r"^\s*\{\*.*\*\}\s*$")  # MkDocs snippet include: {* ../../docs_src/x.py hl[3] *}
MDX_STATEMENT = re.compile(r"^(?:import|export)\s")
JSX_ONLY_LINE = re.compile(r"^\s*(?:</?[A-Z][\w.]*(?:\s[^<>]*)?/?>|</?>|\{/\*.*\*/\})\s*$")
MARKDOWN = MarkdownIt("commonmark")
MARKDOWN_BLOCKS = MarkdownIt("commonmark").disable("inline")  # block structure only: much faster
HTML_NOISE = ["script", "style", "noscript", "template", "nav", "aside", "form", "button", "iframe", "svg", "canvas"]
HTML_NOISE_ROLES = ["navigation", "banner", "contentinfo", "complementary", "search"]
HTML_PERMALINKS = "a.headerlink, a.hash-link, a.anchor-link"


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
        return _parse_pdf(data, path)
    if data.startswith(b"PK\x03\x04"):
        members = _zip_members(data)
        if "word/document.xml" in members or (kind == "docx" and not members):
            return _parse_docx(data, path)
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
        return _parse_markdown(text, path, mdx=kind == "mdx")
    if kind == "html":
        return _parse_html(text, path)
    if kind == "openapi":
        return _parse_openapi_file(text, path)
    return _parse_text(text, path)


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


def _prose(title: str, description: str, markdown: str) -> ParsedDocument:
    """A document made of one prose block."""
    return ParsedDocument(title=title, description=description, blocks=(Block(text=markdown, kind="prose"),))


def _short_line(text: str) -> str:
    """The first non-empty line that is not an underline (=== / ---), if short enough for a title; else ''."""
    for line in text.splitlines():
        line = line.strip()
        if line and not re.fullmatch(r"(.)\1*", line):
            return line if len(line) <= MAX_TITLE_CHARS else ""
    return ""


# --- Markdown and MDX -----------------------------------------------------------------------------------------


def _parse_markdown(text: str, path: Path, *, mdx: bool) -> ParsedDocument:
    """Front matter read and removed, include markers (and MDX import/export/JSX-only lines) dropped."""
    meta, body = _split_front_matter(text, path.name)
    body = _clean_markdown(body, mdx=mdx).strip("\n").rstrip()
    url_hint = next((_scalar(meta.get(key)) for key in ("permalink", "url", "slug") if _scalar(meta.get(key))), "")
    if not body.strip():
        if not meta:
            raise BadFile(f"{path.name} has no content: upload the page with its text.")
        title = _scalar(meta.get("title")) or path.stem
        return ParsedDocument(title=title, description=_scalar(meta.get("description")), blocks=(), url_hint=url_hint)
    title = _scalar(meta.get("title")) or _first_h1(body) or path.stem
    return ParsedDocument(title, _scalar(meta.get("description")), (Block(text=body, kind="prose"),), url_hint)


def _scalar(value: Any) -> str:
    """A front matter value as one line of text ('' unless it is a string or a number)."""
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""


def _split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    """YAML front matter between `---` lines at the very top, and the rest of the text."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        return {}, text
    try:
        meta = load_yaml("\n".join(lines[1:end]), f"{name}: the front matter")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise BadFile(
            f"{name}: the front matter (the block between the --- lines at the top) is not valid YAML{where}: "
            f"{getattr(exc, 'problem', None) or exc}. Fix it or remove the block, then upload the file again."
        ) from exc
    if not isinstance(meta, dict):
        return {}, text
    return meta, "\n".join(lines[end + 1 :])


def _code_lines(markdown: str) -> set[int]:
    """Indices of the lines inside fenced or indented code blocks."""
    lines: set[int] = set()
    for token in MARKDOWN_BLOCKS.parse(markdown):
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(*token.map))
    return lines


def _clean_markdown(body: str, *, mdx: bool) -> str:
    """Drop whole-line include markers, and in MDX top-level import/export statements and JSX-only lines."""
    lines = body.split("\n")
    code = _code_lines(body)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i in code:
            kept.append(line)
        elif INCLUDE_MARKER.match(line) or (mdx and JSX_ONLY_LINE.match(line)):
            i = _skip_blank_after_drop(lines, i + 1, kept)
            continue
        elif mdx and MDX_STATEMENT.match(line) and (not kept or not kept[-1].strip()):
            i = _skip_blank_after_drop(lines, _statement_end(lines, i), kept)
            continue
        else:
            kept.append(line)
        i += 1
    return "\n".join(kept)


def _skip_blank_after_drop(lines: list[str], i: int, kept: list[str]) -> int:
    """Skip the blank line after a dropped line when one already precedes it, so no gap of two is left."""
    if i < len(lines) and not lines[i].strip() and (not kept or not kept[-1].strip()):
        return i + 1
    return i


def _statement_end(lines: list[str], start: int) -> int:
    """Index after an ESM statement that starts at `start`: brackets balanced, never past a blank line."""
    depth = 0
    i = start
    while i < len(lines) and lines[i].strip():
        depth += sum(lines[i].count(c) for c in "({[") - sum(lines[i].count(c) for c in ")}]")
        i += 1
        if depth <= 0:
            break
    return i


def _first_h1(markdown: str) -> str:
    """Plain text of the first level-1 heading, without a trailing `{ #anchor }`; '' when there is none."""
    tokens = MARKDOWN_BLOCKS.parse(markdown)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            children = MARKDOWN.parseInline(tokens[index + 1].content)[0].children or []
            text = "".join(child.content for child in children if child.type in ("text", "code_inline"))
            return split_anchor(text)[0]
    return ""


# --- HTML -----------------------------------------------------------------------------------------------------


def _parse_html(text: str, path: Path) -> ParsedDocument:
    """Main content only (no navigation, header, footer, sidebars, scripts), as Markdown with `#` headings."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(text, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    meta = soup.find("meta", attrs={"name": "description"})
    description = " ".join(str(meta.get("content") or "").split()) if meta else ""
    root = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article") or soup.body or soup
    noise = root.find_all(HTML_NOISE) + root.find_all(attrs={"role": HTML_NOISE_ROLES}) + root.select(HTML_PERMALINKS)
    noise += [tag for tag in root.find_all(["header", "footer"]) if tag.find_parent("article") is None]
    for tag in noise:
        if not tag.decomposed:
            tag.decompose()
    converter = MarkdownConverter(heading_style="ATX", bullets="-", escape_underscores=False, escape_asterisks=False)
    markdown = re.sub(r"\n{3,}", "\n\n", converter.convert_soup(root)).strip()
    if not markdown:
        raise BadFile(
            f"{path.name} has no readable text in its main content (it may be built by JavaScript in the browser): "
            "save the rendered page, or export the documentation as Markdown or PDF."
        )
    h1 = root.find("h1")
    title = title or (h1.get_text(" ", strip=True) if h1 else "") or path.stem
    canonical = soup.find("link", rel="canonical")
    document = _prose(title, description, markdown)
    url_hint = str(canonical.get("href") or "").strip() if canonical else ""
    return ParsedDocument(document.title, document.description, document.blocks, url_hint=url_hint)


# --- PDF ------------------------------------------------------------------------------------------------------


def _parse_pdf(data: bytes, path: Path) -> ParsedDocument:
    """The text layer, pages separated by blank lines; encrypted, damaged and scanned PDFs are refused."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    name = path.name
    if b"%%EOF" not in data[-2048:]:
        raise BadFile(
            f"{name} is truncated or damaged (it lacks the %%EOF end marker of a complete PDF): "
            "download or export it again and upload the complete file."
        )
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadFile(
                f"{name} is protected by a password: save a copy without password protection "
                "(for example print it to PDF) and upload that."
            )
        pages = [(page.extract_text() or "").replace("\x00", "").strip() for page in reader.pages]
        metadata = reader.metadata
        meta_title = _scalar(metadata.title) if metadata else ""
        meta_subject = _scalar(metadata.subject) if metadata else ""
    except BadFile:
        raise
    except DependencyError as exc:
        raise BadFile(
            f"{name} is encrypted with AES and this installation cannot decrypt it ({exc}): "
            "save a copy without protection and upload that, or install `pypdf[crypto]`."
        ) from exc
    except Exception as exc:  # a damaged PDF can fail anywhere inside pypdf
        raise BadFile(
            f"{name} is damaged and cannot be read as a PDF ({exc}): export or download it again and upload it."
        ) from exc
    text = "\n\n".join(page for page in pages if page)
    if not text.strip():
        raise BadFile(
            f"{name} has no text layer (it is probably scanned images of pages): run OCR on it "
            "(for example with ocrmypdf) or export it with text, then upload it again."
        )
    return _prose(meta_title or _short_line(text) or path.stem, meta_subject, text)


# --- DOCX -----------------------------------------------------------------------------------------------------


def _zip_members(data: bytes) -> set[str]:
    """The names inside a ZIP archive (a Word document holds word/document.xml); empty when it is damaged."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return set(archive.namelist())
    except zipfile.BadZipFile:
        return set()


def _parse_docx(data: bytes, path: Path) -> ParsedDocument:
    """Paragraphs as Markdown: heading styles become `#` headings, list styles `-` items, tables pipe tables."""
    import docx
    from docx.table import Table

    check_docx(data, path.name)
    try:
        document = docx.Document(BytesIO(data))
        properties = document.core_properties
        meta_title, meta_subject = _scalar(properties.title), _scalar(properties.subject)
        parts: list[str] = []
        first_heading = ""
        styles: dict[str | None, tuple[int, bool]] = {}  # python-docx resolves a style slowly: once per style id
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                parts.append(_docx_table(item))
                continue
            text = item.text.strip()
            if not text:
                continue
            if item._p.style not in styles:
                style_name = item.style.name if item.style is not None else ""
                styles[item._p.style] = (_docx_heading_level(item), (style_name or "").lower().startswith("list"))
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
    return _prose(meta_title or first_heading or path.stem, meta_subject, markdown)


def _docx_heading_level(paragraph: Any) -> int:
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


def _docx_table(table: Any) -> str:
    """A Markdown pipe table, the first row as its header."""
    rows = [[" ".join(cell.text.split()).replace("|", "\\|") for cell in row.cells] for row in table.rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("---" for _ in rows[0]) + " |")
    return "\n".join(lines)


# --- Plain text and OpenAPI -----------------------------------------------------------------------------------


def _parse_text(text: str, path: Path) -> ParsedDocument:
    """One prose block; the title is the first non-empty line when it is short."""
    body = text.strip("\n").rstrip()
    return _prose(_short_line(body) or path.stem, "", body)


def _parse_openapi_file(text: str, path: Path) -> ParsedDocument:
    """JSON or YAML holding an OpenAPI 3.x / Swagger 2.0 document; anything else is refused."""
    name = path.name
    if path.suffix.lower() == ".json":
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadFile(
                f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
                "Fix the syntax there (a JSON validator shows the exact spot) and upload it again."
            ) from exc
    else:
        try:
            spec = load_yaml(text, name)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise BadFile(
                f"{name} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}. "
                "Fix the syntax there (indentation and colons are the usual culprits) and upload it again."
            ) from exc
    if not isinstance(spec, dict) or not ({"openapi", "swagger"} & spec.keys()):
        raise BadFile(
            f"{name} is not an OpenAPI document (it has no top-level `openapi` or `swagger` key): "
            f"Polydesk ingests {path.suffix} files only when they are OpenAPI 3.x or Swagger 2.0 specifications. "
            "Upload the API's OpenAPI specification, or the documentation as Markdown, HTML, PDF or DOCX."
        )
    return parse_openapi(spec, name)
