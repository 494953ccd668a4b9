"""One batch of uploads staged: each document written under a checked name, each archive unpacked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from core.admin.uploads.archive import open_zip, refuse_office_zip, stage_zip
from core.admin.uploads.content import DOCX_MARKER, EMPTY_ZIP_MAGIC, ZIP_MAGIC, content_mismatch, looks_like
from core.admin.uploads.disk import write_atomic
from core.admin.uploads.limits import Batch, Refusal, Refused, StagedUploads, UploadLimits, mb
from core.admin.uploads.names import base_name, check_document_name, check_free, reserve
from core.errors import BadFile
from core.knowledge.ingest.parse import FORMATS


def stage_uploads(files: Sequence[tuple[str, bytes]], folder: Path, limits: UploadLimits) -> StagedUploads:
    """Write each upload (or each member of an uploaded ZIP) into `folder`; bad files are refused, not raised."""
    _check_batch(files, limits)
    folder.mkdir(parents=True, exist_ok=True)
    batch = Batch(folder, limits)
    for raw_name, data in files:
        shown = raw_name or "(unnamed file)"
        try:
            _stage_one(batch, raw_name, data)
        except Refusal as exc:
            batch.refused.append(Refused(shown, str(exc)))
        except OSError as exc:
            reason = (
                f"{shown} could not be written to the upload folder ({exc.strerror or exc}): "
                "check the free disk space and the folder's permissions, then upload it again."
            )
            batch.refused.append(Refused(shown, reason))
    return StagedUploads(folder, tuple(batch.staged), tuple(batch.refused))


def _check_batch(files: Sequence[tuple[str, bytes]], limits: UploadLimits) -> None:
    """Refuse the whole batch when it has too many files or too many bytes."""
    if len(files) > limits.max_files:
        raise BadFile(
            f"{len(files)} files were uploaded at once, over the limit of {limits.max_files}: "
            "upload them in smaller batches, or put them in a ZIP archive."
        )
    total = sum(len(data) for _, data in files)
    if total > limits.max_total_bytes:
        raise BadFile(
            f"The uploaded files total {mb(total)}, over the limit of {mb(limits.max_total_bytes)} for one batch: "
            "upload them in smaller batches."
        )


def _stage_one(batch: Batch, raw_name: str, data: bytes) -> None:
    """Stage one uploaded file: a document, a Word document, or a ZIP archive of documents."""
    name = base_name(raw_name)
    if data.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        archive = open_zip(name, data, batch.limits)
        names = set(archive.namelist())
        suffix = PurePosixPath(name).suffix.lower()
        if DOCX_MARKER in names:
            if suffix != ".docx":
                raise Refusal(f"{name} is a Word document, not a {suffix or 'extension-less'} file: rename it .docx.")
            check_document_name(name, data, batch.limits)
            _write_document(batch, name, data)
            return
        if suffix in FORMATS:
            raise Refusal(
                f"{name} is a ZIP archive, not a real {suffix} file. If it holds documents, rename it .zip "
                "to upload its contents; if it should be a document, export it again from the program that made it."
            )
        refuse_office_zip(name, names)
        stage_zip(batch, name, archive)
        return
    if PurePosixPath(name).suffix.lower() == ".zip":
        found = looks_like(data)
        looks = f"it looks like {found}" if found else "it lacks the ZIP signature"
        raise Refusal(f"{name} is not a real ZIP archive ({looks}): create the archive again and upload it.")
    check_document_name(name, data, batch.limits)
    reason = content_mismatch(name, data)
    if reason:
        raise Refusal(reason)
    _write_document(batch, name, data)


def _write_document(batch: Batch, name: str, data: bytes) -> None:
    """Stage one checked document under a name not taken yet."""
    check_free(batch, name)
    write_atomic(batch.folder, name, data)
    reserve(batch, name)
    batch.staged.append(name)
