"""Checks a .docx passes before python-docx reads it: no part that inflates like a zip bomb, a bounded size."""

from __future__ import annotations

import zipfile
from io import BytesIO

from core.errors import BadFile

MAX_PART_BYTES = 50_000_000  # one part (word/document.xml, an image ...) once unpacked
MAX_TOTAL_BYTES = 200_000_000  # every part together once unpacked
MAX_RATIO = 100.0  # unpacked size over packed size of one part, as for uploaded zips
RATIO_FLOOR_BYTES = 1_000_000  # parts smaller than this are never bombs, whatever their ratio
MAX_PARAGRAPHS = 100_000  # about 3,000 pages; parse time grows with the count
DOCUMENT_PART = "word/document.xml"


def check_docx(data: bytes, name: str) -> None:
    """BadFile when a part of the Word document is a bomb or too big, or the text has too many paragraphs."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile:
        return  # python-docx reports the damage in its own words
    with archive:
        infos = archive.infolist()
        for info in infos:
            _check_part(info, name)
        total = sum(info.file_size for info in infos)
        if total > MAX_TOTAL_BYTES:
            raise BadFile(f"{name} unpacks to {total / 1e6:.0f} MB, more than the {MAX_TOTAL_BYTES / 1e6:.0f} MB "
                          "a Word document may hold: remove large images or split the document, then upload it.")
        if DOCUMENT_PART in archive.namelist():
            body = archive.read(DOCUMENT_PART)
            paragraphs = body.count(b"<w:p>") + body.count(b"<w:p ")
            if paragraphs > MAX_PARAGRAPHS:
                raise BadFile(f"{name} has {paragraphs:,} paragraphs, more than the {MAX_PARAGRAPHS:,} Polydesk "
                              "reads from one Word document: split it into several documents and upload those.")


def _check_part(info: zipfile.ZipInfo, name: str) -> None:
    """Refuse one part that unpacks too large or at the ratio of a compression bomb."""
    if info.file_size > MAX_PART_BYTES:
        raise BadFile(f"{name}: its part {info.filename} unpacks to {info.file_size / 1e6:.0f} MB, more than "
                      f"{MAX_PART_BYTES / 1e6:.0f} MB: remove large embedded files or split the document.")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
        raise BadFile(f"{name}: its part {info.filename} grows {ratio:.0f} times when unpacked ({info.compress_size:,} "
                      f"to {info.file_size:,} bytes), as compression bombs do; a real Word document does not. "
                      "Save it again from Word or LibreOffice and upload that copy.")
