"""Upload and archive member names: cleaned, checked against the supported formats and against each other."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import PurePosixPath

from core.admin.uploads.limits import Batch, Refusal, UploadLimits, too_big
from core.knowledge.ingest.parse import FORMATS, SUPPORTED

MAX_NAME_BYTES = 200  # one path component, UTF-8; file systems allow 255
CONTROL_EXTRA = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # bidi tricks


def clean_component(raw: str) -> str:
    """One path component: NFC, no control or bidi-override characters, trimmed, at most MAX_NAME_BYTES."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(c for c in text if unicodedata.category(c) != "Cc" and c not in CONTROL_EXTRA)
    text = text.strip().rstrip(". ")
    if len(text.encode()) <= MAX_NAME_BYTES:
        return text
    path = PurePosixPath(text)
    suffix = path.suffix if len(path.suffix.encode()) <= 20 else ""
    stem = text[: len(text) - len(suffix)] if suffix else text
    while stem and len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip(". ") + suffix


def base_name(raw: str) -> str:
    """The file name without any folders the browser sent, cleaned; refused when nothing usable is left."""
    name = clean_component(re.split(r"[/\\]", raw)[-1])
    if not name or name in (".", ".."):
        raise Refusal(f"{raw!r} is not a usable file name: rename the file (for example auth.md) and upload it again.")
    if name.startswith("."):
        raise Refusal(
            f"{name} is a hidden file (its name starts with a dot): rename it without the leading dot "
            "(for example notes.md) if it should be ingested."
        )
    return name


def check_document_name(name: str, data: bytes, limits: UploadLimits) -> None:
    """Refuse unsupported extensions, empty files and files over the size limit."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in FORMATS:
        raise Refusal(
            f"{name}: Polydesk cannot ingest {suffix or 'extension-less'} files. Supported extensions: {SUPPORTED}, "
            "and .zip archives of such files; convert the file to one of these and upload it again."
        )
    if not data:
        raise Refusal(f"{name} is empty (0 bytes): upload the file with its content.")
    if len(data) > limits.max_file_bytes:
        raise Refusal(too_big(name, len(data), limits.max_file_bytes))


def check_free(batch: Batch, relative: str) -> None:
    """Refuse a name already used in this batch (letter case ignored) or already in the staging folder."""
    key = relative.casefold()
    if key in batch.taken or key in batch.dirs or os.path.lexists(batch.folder / relative):
        raise Refusal(_duplicate(relative))
    if any(parent in batch.taken for parent in _parents(relative)):
        raise Refusal(f"{relative} would go inside a folder that has the name of a file already uploaded: rename one.")


def reserve(batch: Batch, relative: str) -> None:
    """Record a staged name and its folders."""
    batch.taken.add(relative.casefold())
    batch.dirs.update(_parents(relative))


def _parents(relative: str) -> list[str]:
    """The casefolded folders a relative path lives in, e.g. ['docs/en', 'docs']."""
    return [p.as_posix().casefold() for p in PurePosixPath(relative).parents if p.as_posix() != "."]


def _duplicate(relative: str) -> str:
    """The message for a name that another upload already took."""
    return (
        f"{relative} has the same name as a file already uploaded (letter case ignored): rename one of them "
        "and upload it again; Polydesk does not overwrite one upload with another."
    )
