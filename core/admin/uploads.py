"""Stage uploaded files (name + bytes) as files on disk, safely: names sanitised, types sniffed, ZIPs checked."""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath

from core.errors import BadFile
from core.knowledge.ingest.parse import BINARY_SIGNATURES, FORMATS, PDF_MAGIC_WINDOW, SUPPORTED

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
DOCX_MARKER = "word/document.xml"
TEXT_SNIFF_BYTES = 8192
MAX_NAME_BYTES = 200  # one path component, UTF-8; file systems allow 255
MAX_PATH_BYTES = 1024  # a whole relative path inside an archive
RATIO_FLOOR_BYTES = 1_000_000  # members smaller than this are never bombs, whatever their ratio
CD_BYTES_PER_MEMBER = 4096  # generous central-directory bytes per allowed member, checked before parsing it
COPY_CHUNK = 1 << 16
CONTROL_EXTRA = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # bidi tricks
SILENT_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}
DRIVE = re.compile(r"^[A-Za-z]:")
OTHER_ARCHIVES = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)
SIGNATURES = (*BINARY_SIGNATURES, (b"%PDF-", "a PDF document"), *OTHER_ARCHIVES)


@dataclass(frozen=True)
class UploadLimits:
    """Ceilings for one batch of uploads; ZIP limits guard against decompression bombs."""

    max_file_bytes: int = 20_000_000
    max_files: int = 200
    max_total_bytes: int = 200_000_000
    max_zip_members: int = 2000
    max_zip_total_bytes: int = 500_000_000  # everything the batch's archives may unpack to, together
    max_compression_ratio: float = 100.0


@dataclass(frozen=True)
class Refused:
    """An upload or archive member that was not staged, and why (a sentence for a person)."""

    name: str
    reason: str
    status: str = "failed"  # "skipped" for a file in an archive that is not a document


@dataclass(frozen=True)
class StagedUploads:
    """What a batch left in the staging folder (relative POSIX names) and what it refused."""

    folder: Path
    staged: tuple[str, ...] = ()
    refused: tuple[Refused, ...] = ()

    @property
    def paths(self) -> list[Path]:
        """The staged files as paths, ready for ingest."""
        return [self.folder / name for name in self.staged]


class _Refusal(Exception):
    """One upload (or a whole archive) is refused; the message is the reason."""


@dataclass
class _Batch:
    """Mutable state of one stage_uploads call."""

    folder: Path
    limits: UploadLimits
    staged: list[str] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # casefolded relative paths of staged files
    dirs: set[str] = field(default_factory=set)  # casefolded relative folders they live in
    unpacked: int = 0  # bytes the batch's archives have unpacked so far


def stage_uploads(files: Sequence[tuple[str, bytes]], folder: Path, limits: UploadLimits) -> StagedUploads:
    """Write each upload (or each member of an uploaded ZIP) into `folder`; bad files are refused, not raised."""
    _check_batch(files, limits)
    folder.mkdir(parents=True, exist_ok=True)
    batch = _Batch(folder, limits)
    for raw_name, data in files:
        shown = raw_name or "(unnamed file)"
        try:
            _stage_one(batch, raw_name, data)
        except _Refusal as exc:
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
            f"The uploaded files total {_mb(total)}, over the limit of {_mb(limits.max_total_bytes)} for one batch: "
            "upload them in smaller batches."
        )


def _stage_one(batch: _Batch, raw_name: str, data: bytes) -> None:
    """Stage one uploaded file: a document, a Word document, or a ZIP archive of documents."""
    name = _base_name(raw_name)
    if data.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        archive = _open_zip(name, data, batch.limits)
        names = set(archive.namelist())
        suffix = PurePosixPath(name).suffix.lower()
        if DOCX_MARKER in names:
            if suffix != ".docx":
                raise _Refusal(f"{name} is a Word document, not a {suffix or 'extension-less'} file: rename it .docx.")
            _check_document_name(name, data, batch.limits)
            _write_document(batch, name, data)
            return
        if suffix in FORMATS:
            raise _Refusal(
                f"{name} is a ZIP archive, not a real {suffix} file. If it holds documents, rename it .zip "
                "to upload its contents; if it should be a document, export it again from the program that made it."
            )
        _refuse_office_zip(name, names)
        _stage_zip(batch, name, archive)
        return
    if PurePosixPath(name).suffix.lower() == ".zip":
        found = _looks_like(data)
        looks = f"it looks like {found}" if found else "it lacks the ZIP signature"
        raise _Refusal(f"{name} is not a real ZIP archive ({looks}): create the archive again and upload it.")
    _check_document_name(name, data, batch.limits)
    reason = _content_mismatch(name, data)
    if reason:
        raise _Refusal(reason)
    _write_document(batch, name, data)


def _write_document(batch: _Batch, name: str, data: bytes) -> None:
    """Stage one checked document under a name not taken yet."""
    _check_free(batch, name)
    _write_atomic(batch.folder, name, data)
    _reserve(batch, name)
    batch.staged.append(name)


# --- names ----------------------------------------------------------------------------------------------------


def _clean_component(raw: str) -> str:
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


def _base_name(raw: str) -> str:
    """The file name without any folders the browser sent, cleaned; refused when nothing usable is left."""
    name = _clean_component(re.split(r"[/\\]", raw)[-1])
    if not name or name in (".", ".."):
        raise _Refusal(f"{raw!r} is not a usable file name: rename the file (for example auth.md) and upload it again.")
    if name.startswith("."):
        raise _Refusal(
            f"{name} is a hidden file (its name starts with a dot): rename it without the leading dot "
            "(for example notes.md) if it should be ingested."
        )
    return name


def _check_document_name(name: str, data: bytes, limits: UploadLimits) -> None:
    """Refuse unsupported extensions, empty files and files over the size limit."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in FORMATS:
        raise _Refusal(
            f"{name}: Polydesk cannot ingest {suffix or 'extension-less'} files. Supported extensions: {SUPPORTED}, "
            "and .zip archives of such files; convert the file to one of these and upload it again."
        )
    if not data:
        raise _Refusal(f"{name} is empty (0 bytes): upload the file with its content.")
    if len(data) > limits.max_file_bytes:
        raise _Refusal(_too_big(name, len(data), limits.max_file_bytes))


def _check_free(batch: _Batch, relative: str) -> None:
    """Refuse a name already used in this batch (letter case ignored) or already in the staging folder."""
    key = relative.casefold()
    if key in batch.taken or key in batch.dirs or os.path.lexists(batch.folder / relative):
        raise _Refusal(_duplicate(relative))
    if any(parent in batch.taken for parent in _parents(relative)):
        raise _Refusal(f"{relative} would go inside a folder that has the name of a file already uploaded: rename one.")


def _reserve(batch: _Batch, relative: str) -> None:
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


# --- content --------------------------------------------------------------------------------------------------


def _looks_like(data: bytes) -> str | None:
    """What a binary file looks like from its first bytes, e.g. 'a PNG image'; None when unknown."""
    return next((what for magic, what in SIGNATURES if data.startswith(magic)), None)


def _content_mismatch(name: str, head: bytes) -> str | None:
    """Why `head` (the first bytes of a non-ZIP file) does not match the extension of `name`; None when it does."""
    suffix = PurePosixPath(name).suffix.lower()
    kind = FORMATS[suffix]
    found = _looks_like(head)
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


# --- ZIP archives ---------------------------------------------------------------------------------------------


def _open_zip(name: str, data: bytes, limits: UploadLimits) -> zipfile.ZipFile:
    """The archive, after a cheap check of its member count; damaged archives are refused."""
    _check_zip_directory(name, data, limits)
    try:
        return zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error) as exc:
        raise _Refusal(
            f"{name} is a damaged ZIP archive ({exc}): create the archive again and upload it."
        ) from exc


def _check_zip_directory(name: str, data: bytes, limits: UploadLimits) -> None:
    """Before zipfile reads the central directory into memory, refuse one too large for the member limit."""
    end = data.rfind(EMPTY_ZIP_MAGIC, max(0, len(data) - 65_557))
    if end == -1 or end + 22 > len(data):
        return  # zipfile reports the damage
    entries, cd_size = struct.unpack_from("<HI", data, end + 10)
    if entries != 0xFFFF and entries > limits.max_zip_members:
        raise _Refusal(_too_many(name, entries, limits))
    if cd_size != 0xFFFFFFFF and cd_size > limits.max_zip_members * CD_BYTES_PER_MEMBER:
        raise _Refusal(
            f"{name} has a ZIP directory of {_mb(cd_size)}, more than {limits.max_zip_members} entries can need: "
            "it is damaged or hostile. Create the archive again and upload it."
        )


def _too_many(name: str, count: int, limits: UploadLimits) -> str:
    """The message for an archive with too many entries."""
    return (
        f"{name} holds {count} entries, over the limit of {limits.max_zip_members}: "
        "split it into several archives, or raise the limit."
    )


def _refuse_office_zip(name: str, names: set[str]) -> None:
    """Excel, PowerPoint and OpenDocument files are ZIPs too; say what they are instead of unpacking them."""
    if "[Content_Types].xml" in names or "mimetype" in names:
        raise _Refusal(
            f"{name} is an Excel, PowerPoint or OpenDocument file (a ZIP of XML parts), which Polydesk cannot ingest: "
            f"export it as PDF or DOCX and upload that. Supported extensions: {SUPPORTED}."
        )


@dataclass(frozen=True)
class _Member:
    """A file inside an archive that will be extracted, with its cleaned relative path."""

    info: zipfile.ZipInfo
    relative: str


def _stage_zip(batch: _Batch, name: str, archive: zipfile.ZipFile) -> None:
    """Check the whole archive from its headers, extract it to a hidden temporary folder, then move files in place."""
    members, refused = _plan_zip(batch, name, archive)
    scratch = Path(tempfile.mkdtemp(prefix=".unzip-", dir=batch.folder))
    try:
        extracted = _extract(batch, name, archive, members, scratch)
        kept: list[tuple[Path, str]] = []
        for member, temp in extracted:
            reason = _member_content(name, member, temp)
            if reason:
                refused.append(Refused(member.relative, reason))
            else:
                kept.append((temp, member.relative))
        _commit(batch, kept)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for _, relative in kept:
        _reserve(batch, relative)  # _plan_zip checked every name against the batch and the folder
        batch.staged.append(relative)
    batch.refused.extend(refused)


def _plan_zip(batch: _Batch, name: str, archive: zipfile.ZipFile) -> tuple[list[_Member], list[Refused]]:
    """Every header check, before anything is written: the members to extract and the ones refused."""
    limits = batch.limits
    infos = archive.infolist()
    if not infos:
        raise _Refusal(f"{name} is an empty ZIP archive: add the documents to it and upload it again.")
    if len(infos) > limits.max_zip_members:
        raise _Refusal(_too_many(name, len(infos), limits))
    seen_raw: set[str] = set()
    members: list[_Member] = []
    refused: list[Refused] = []
    files: dict[str, str] = {}
    folders: set[str] = set()
    declared = 0
    for info in infos:
        raw = info.filename
        if raw in seen_raw:
            raise _Refusal(f"{name} contains {raw} twice: create the archive again without duplicate entries.")
        seen_raw.add(raw)
        parts = _member_parts(name, raw)
        _check_member_header(name, raw, info, limits)
        declared += info.file_size
        if info.is_dir() or not parts:
            folders.update("/".join(parts[: i + 1]).casefold() for i in range(len(parts)))
            continue
        relative = "/".join(parts)
        key = relative.casefold()
        if key in files:
            raise _Refusal(
                f"{name} contains two files named {relative} (after cleaning the names, letter case ignored): "
                "rename one and create the archive again."
            )
        files[key] = relative
        folders.update("/".join(parts[: i + 1]).casefold() for i in range(len(parts) - 1))
        if _silent(parts):
            continue
        if PurePosixPath(relative).suffix.lower() == ".zip":
            raise _Refusal(_nested(name, relative))
        reason = _member_refusal(name, relative, info, limits)
        if reason:  # a non-document beside the pages (image, stylesheet) is skipped; a bad document failed
            skipped = PurePosixPath(relative).suffix.lower() not in FORMATS
            refused.append(Refused(relative, reason, "skipped" if skipped else "failed"))
        else:
            members.append(_Member(info, relative))
    clash = next((files[key] for key in files if key in folders), None)
    if clash:
        raise _Refusal(f"{name} uses {clash} both as a file and as a folder: rename one and create the archive again.")
    if batch.unpacked + declared > limits.max_zip_total_bytes:
        earlier = " together with the archives before it" if batch.unpacked else ""
        raise _Refusal(
            f"{name} unpacks to {_mb(declared)}{earlier}, over the limit of {_mb(limits.max_zip_total_bytes)}: "
            "split it into smaller archives and upload them in separate batches."
        )
    for member in members:
        try:
            _check_free(batch, member.relative)
        except _Refusal as exc:
            raise _Refusal(f"{name}: {exc} Polydesk refuses the whole archive.") from None
    return members, refused


def _member_parts(name: str, raw: str) -> list[str]:
    """The cleaned components of a member's path; absolute, drive-letter and `..` paths refuse the archive."""
    path = raw.replace("\\", "/")
    if path.startswith("/") or DRIVE.match(path):
        raise _Refusal(
            f"{name} contains an absolute path ({raw}), which could write outside the upload folder: "
            "Polydesk refuses the whole archive. Create it again with relative paths."
        )
    parts: list[str] = []
    for piece in path.split("/"):
        if piece == "..":
            raise _Refusal(
                f"{name} contains a path that climbs out of the archive ({raw}), which could overwrite files "
                "elsewhere: Polydesk refuses the whole archive. Create it again from the folder itself."
            )
        if piece in ("", "."):
            continue
        cleaned = _clean_component(piece)
        if not cleaned or cleaned in (".", ".."):
            raise _Refusal(f"{name} contains an unusable name ({raw!r}): rename it and create the archive again.")
        parts.append(cleaned)
    if len("/".join(parts).encode()) > MAX_PATH_BYTES:
        raise _Refusal(f"{name} contains a path longer than {MAX_PATH_BYTES} bytes ({raw[:80]}...): shorten it.")
    return parts


def _check_member_header(name: str, raw: str, info: zipfile.ZipInfo, limits: UploadLimits) -> None:
    """Refuse the archive for links, special files, encryption and compression ratios of a bomb."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise _Refusal(
            f"{name} contains a symbolic link ({raw}), which could point outside the upload folder: "
            "Polydesk refuses the whole archive. Create it again with the files themselves instead of links."
        )
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise _Refusal(f"{name} contains a special file ({raw}) that is not a document: create it again without it.")
    if info.flag_bits & 0x41:
        raise _Refusal(
            f"{name} is protected by a password ({raw} is encrypted): create the archive again without a password."
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
        raise _Refusal(
            f"{name} looks like a decompression bomb: {raw} claims to unpack {_mb(info.compress_size)} into "
            f"{_mb(info.file_size)} (ratio {ratio:.0f}, over the limit of {limits.max_compression_ratio:.0f}). "
            "Polydesk refuses the whole archive; upload the documents themselves."
        )
    if info.file_size > limits.max_zip_total_bytes:
        raise _Refusal(
            f"{name} contains {raw}, which claims to unpack to {_mb(info.file_size)}, over the limit of "
            f"{_mb(limits.max_zip_total_bytes)}: Polydesk refuses the whole archive."
        )


def _silent(parts: list[str]) -> bool:
    """Hidden files and folders, macOS resource forks and Windows thumbnails are skipped without a word."""
    return any(part.startswith(".") or part.casefold() in SILENT_NAMES for part in parts)


def _member_refusal(name: str, relative: str, info: zipfile.ZipInfo, limits: UploadLimits) -> str | None:
    """Why one member is skipped (unsupported, empty, too big) while the rest of the archive is staged."""
    suffix = PurePosixPath(relative).suffix.lower()
    if suffix not in FORMATS:
        return (
            f"{relative} in {name}: Polydesk cannot ingest {suffix or 'extension-less'} files "
            f"(supported: {SUPPORTED}); it was left out."
        )
    if info.file_size == 0:
        return f"{relative} in {name} is empty (0 bytes); it was left out."
    if info.file_size > limits.max_file_bytes:
        return f"{relative} in {name}: " + _too_big(relative, info.file_size, limits.max_file_bytes)
    return None


def _nested(name: str, relative: str) -> str:
    """The message for an archive inside an archive."""
    return (
        f"{name} contains another archive ({relative}); Polydesk does not unpack archives inside archives "
        "and refuses the whole archive. Unpack the inner archive and put its files in the outer one."
    )


def _extract(
    batch: _Batch, name: str, archive: zipfile.ZipFile, members: list[_Member], scratch: Path
) -> list[tuple[_Member, Path]]:
    """Stream each member to a scratch file, counting bytes: headers that lie cannot push past the limits."""
    limits = batch.limits
    budget = limits.max_zip_total_bytes - batch.unpacked
    out: list[tuple[_Member, Path]] = []
    for index, member in enumerate(members):
        temp = scratch / f"{index}.part"
        ceiling = min(member.info.file_size, limits.max_file_bytes, budget)
        written = 0
        try:
            with archive.open(member.info) as source, temp.open("wb") as target:
                while chunk := source.read(COPY_CHUNK):
                    written += len(chunk)
                    if written > ceiling:
                        raise _Refusal(
                            f"{name} looks like a decompression bomb: {member.relative} unpacks to more than its "
                            f"header declares ({_mb(member.info.file_size)}) or more than the limits allow. "
                            "Polydesk refuses the whole archive."
                        )
                    target.write(chunk)
        except _Refusal:
            raise
        except Exception as exc:  # a damaged member can fail in zipfile, zlib, bz2 or lzma
            raise _Refusal(
                f"{name} cannot be unpacked ({member.relative}: {exc}): create the archive again with a standard "
                "ZIP tool (Deflate compression, no password) and upload it."
            ) from exc
        budget -= written
        out.append((member, temp))
    batch.unpacked = limits.max_zip_total_bytes - budget
    return out


def _member_content(name: str, member: _Member, temp: Path) -> str | None:
    """Why an extracted member's content does not match its extension; nested archives refuse the archive."""
    with temp.open("rb") as handle:
        head = handle.read(TEXT_SNIFF_BYTES)
    suffix = PurePosixPath(member.relative).suffix.lower()
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        try:
            with zipfile.ZipFile(temp) as inner:
                is_docx = DOCX_MARKER in inner.namelist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            is_docx = False
        if not is_docx:
            raise _Refusal(_nested(name, member.relative))
        if suffix != ".docx":
            return f"{member.relative} in {name} is a Word document, not a {suffix} file: rename it .docx."
        return None
    if any(head.startswith(magic) for magic, _ in OTHER_ARCHIVES):
        raise _Refusal(_nested(name, member.relative))
    reason = _content_mismatch(member.relative, head)
    return f"{reason} (in {name}; it was left out)" if reason else None


def _commit(batch: _Batch, kept: list[tuple[Path, str]]) -> None:
    """Move extracted files into place atomically; on any failure remove what this archive moved."""
    moved: list[Path] = []
    made: list[Path] = []
    try:
        for temp, relative in kept:
            target = batch.folder / relative
            for parent in reversed([p for p in target.parents if p != batch.folder and batch.folder in p.parents]):
                if not parent.exists():
                    parent.mkdir()
                    made.append(parent)
            _inside(batch.folder, target)
            os.replace(temp, target)
            moved.append(target)
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


# --- writing --------------------------------------------------------------------------------------------------


def _inside(folder: Path, target: Path) -> None:
    """Refuse a target that resolves outside the staging folder (through a link already on disk)."""
    if not target.parent.resolve().is_relative_to(folder.resolve()):
        raise _Refusal(f"{target.name} would be written outside the upload folder: Polydesk refuses it.")


def _write_atomic(folder: Path, relative: str, data: bytes) -> None:
    """Write to a hidden temporary file next to the target, then rename it over the target in one step."""
    target = folder / relative
    _inside(folder, target)
    handle, temp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _too_big(name: str, size: int, max_bytes: int) -> str:
    """The message for a file over the size limit."""
    return (
        f"{name} is {_mb(size)}, over the limit of {_mb(max_bytes)} for one file: "
        "split it into smaller files, or raise the limit with the setting POLYDESK_MAX_FILE_MB."
    )


def _mb(size: int) -> str:
    """Bytes as megabytes for a message, e.g. '20.0 MB'."""
    return f"{size / 1e6:.1f} MB"
