"""A .docx is checked like an uploaded zip (part sizes, compression ratio) and its paragraph count is bounded."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest

from core.errors import BadFile
from core.knowledge.ingest.docx_checks import MAX_PARAGRAPHS
from core.knowledge.ingest.parse import parse_file


def word_file(folder: Path, paragraphs: int = 3, extra_part: bytes | None = None) -> Path:
    """A real Word document made by python-docx, with `paragraphs` body paragraphs and maybe one more part."""
    document = docx.Document()
    document.add_heading("Versand über die Paket-API", level=1)
    document.add_paragraph("Eine Sendung anlegen: POST /v1/sendungen.")
    buffer = io.BytesIO()
    document.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                body = "".join(f"<w:p><w:r><w:t>Absatz {i * 7919 % 100003} über Sendungen.</w:t></w:r></w:p>"
                               for i in range(paragraphs))
                data = data.replace(b"</w:body>", body.encode() + b"</w:body>")  # the sectPr stays first; fine
            target.writestr(info, data)
        if extra_part is not None:
            target.writestr("word/media/blob.bin", extra_part)
    path = folder / "versand.docx"
    path.write_bytes(out.getvalue())
    return path


def test_a_normal_word_document_parses(tmp_path):
    document = parse_file(word_file(tmp_path, paragraphs=50))
    assert document.title == "Versand über die Paket-API"
    assert document.blocks[0].text.count(" über Sendungen.") == 50


def test_a_part_that_inflates_like_a_bomb_is_refused(tmp_path):
    path = word_file(tmp_path, extra_part=b"\0" * 5_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(BadFile, match=r"versand.docx: its part word/media/blob.bin grows \d+ times when unpacked"):
        parse_file(path)


def test_too_many_paragraphs_are_refused_before_parsing(tmp_path):
    path = word_file(tmp_path, paragraphs=MAX_PARAGRAPHS + 1)
    with pytest.raises(BadFile, match=f"versand.docx has 100,00[0-9] paragraphs, more than the {MAX_PARAGRAPHS:,}"):
        parse_file(path)
