"""ZIP archives of documents: checked from their headers, unpacked with counted bytes, then moved in place."""

from __future__ import annotations

import re
import shutil
import stat
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath

from core.admin.uploads.content import (
    DOCX_MARKER,
    EMPTY_ZIP_MAGIC,
    OTHER_ARCHIVES,
    TEXT_SNIFF_BYTES,
    ZIP_MAGIC,
    content_mismatch,
)
from core.admin.uploads.disk import commit
from core.admin.uploads.limits import Batch, Refusal, Refused, UploadLimits, mb, too_big
from core.admin.uploads.names import check_free, clean_component, reserve
from core.knowledge.ingest.parse import FORMATS, SUPPORTED

MAX_PATH_BYTES = 1024  # a whole relative path inside an archive
RATIO_FLOOR_BYTES = 1_000_000  # members smaller than this are never bombs, whatever their ratio
CD_BYTES_PER_MEMBER = 4096  # generous central-directory bytes per allowed member, checked before parsing it
COPY_CHUNK = 1 << 16
SILENT_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}
DRIVE = re.compile(r"^[A-Za-z]:")


def open_zip(name: str, data: bytes, limits: UploadLimits) -> zipfile.ZipFile:
    """The archive, after a cheap check of its member count; damaged archives are refused."""
    _check_zip_directory(name, data, limits)
    try:
        return zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error) as exc:
        raise Refusal(
            f"{name} is a damaged ZIP archive ({exc}): create the archive again and upload it."
        ) from exc


def _check_zip_directory(name: str, data: bytes, limits: UploadLimits) -> None:
    """Before zipfile reads the central directory into memory, refuse one too large for the member limit."""
    end = data.rfind(EMPTY_ZIP_MAGIC, max(0, len(data) - 65_557))
    if end == -1 or end + 22 > len(data):
        return  # zipfile reports the damage
    entries, cd_size = struct.unpack_from("<HI", data, end + 10)
    if entries != 0xFFFF and entries > limits.max_zip_members:
        raise Refusal(_too_many(name, entries, limits))
    if cd_size != 0xFFFFFFFF and cd_size > limits.max_zip_members * CD_BYTES_PER_MEMBER:
        raise Refusal(
            f"{name} has a ZIP directory of {mb(cd_size)}, more than {limits.max_zip_members} entries can need: "
            "it is damaged or hostile. Create the archive again and upload it."
        )


def _too_many(name: str, count: int, limits: UploadLimits) -> str:
    """The message for an archive with too many entries."""
    return (
        f"{name} holds {count} entries, over the limit of {limits.max_zip_members}: "
        "split it into several archives, or raise the limit."
    )


def refuse_office_zip(name: str, names: set[str]) -> None:
    """Excel, PowerPoint and OpenDocument files are ZIPs too; say what they are instead of unpacking them."""
    if "[Content_Types].xml" in names or "mimetype" in names:
        raise Refusal(
            f"{name} is an Excel, PowerPoint or OpenDocument file (a ZIP of XML parts), which Polydesk cannot ingest: "
            f"export it as PDF or DOCX and upload that. Supported extensions: {SUPPORTED}."
        )


@dataclass(frozen=True)
class _Member:
    """A file inside an archive that will be extracted, with its cleaned relative path."""

    info: zipfile.ZipInfo
    relative: str


def stage_zip(batch: Batch, name: str, archive: zipfile.ZipFile) -> None:
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
        commit(batch, kept)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for _, relative in kept:
        reserve(batch, relative)  # _plan_zip checked every name against the batch and the folder
        batch.staged.append(relative)
    batch.refused.extend(refused)


def _plan_zip(batch: Batch, name: str, archive: zipfile.ZipFile) -> tuple[list[_Member], list[Refused]]:
    """Every header check, before anything is written: the members to extract and the ones refused."""
    limits = batch.limits
    infos = archive.infolist()
    if not infos:
        raise Refusal(f"{name} is an empty ZIP archive: add the documents to it and upload it again.")
    if len(infos) > limits.max_zip_members:
        raise Refusal(_too_many(name, len(infos), limits))
    seen_raw: set[str] = set()
    members: list[_Member] = []
    refused: list[Refused] = []
    files: dict[str, str] = {}
    folders: set[str] = set()
    declared = 0
    for info in infos:
        raw = info.filename
        if raw in seen_raw:
            raise Refusal(f"{name} contains {raw} twice: create the archive again without duplicate entries.")
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
            raise Refusal(
                f"{name} contains two files named {relative} (after cleaning the names, letter case ignored): "
                "rename one and create the archive again."
            )
        files[key] = relative
        folders.update("/".join(parts[: i + 1]).casefold() for i in range(len(parts) - 1))
        if _silent(parts):
            continue
        if PurePosixPath(relative).suffix.lower() == ".zip":
            raise Refusal(_nested(name, relative))
        reason = _member_refusal(name, relative, info, limits)
        if reason:  # a non-document beside the pages (image, stylesheet) is skipped; a bad document failed
            skipped = PurePosixPath(relative).suffix.lower() not in FORMATS
            refused.append(Refused(relative, reason, "skipped" if skipped else "failed"))
        else:
            members.append(_Member(info, relative))
    clash = next((files[key] for key in files if key in folders), None)
    if clash:
        raise Refusal(f"{name} uses {clash} both as a file and as a folder: rename one and create the archive again.")
    if batch.unpacked + declared > limits.max_zip_total_bytes:
        earlier = " together with the archives before it" if batch.unpacked else ""
        raise Refusal(
            f"{name} unpacks to {mb(declared)}{earlier}, over the limit of {mb(limits.max_zip_total_bytes)}: "
            "split it into smaller archives and upload them in separate batches, or raise the limit with the "
            "setting POLYDESK_UPLOAD_MAX_UNPACKED_MB."
        )
    for member in members:
        try:
            check_free(batch, member.relative)
        except Refusal as exc:
            raise Refusal(f"{name}: {exc} Polydesk refuses the whole archive.") from None
    return members, refused


def _member_parts(name: str, raw: str) -> list[str]:
    """The cleaned components of a member's path; absolute, drive-letter and `..` paths refuse the archive."""
    path = raw.replace("\\", "/")
    if path.startswith("/") or DRIVE.match(path):
        raise Refusal(
            f"{name} contains an absolute path ({raw}), which could write outside the upload folder: "
            "Polydesk refuses the whole archive. Create it again with relative paths."
        )
    parts: list[str] = []
    for piece in path.split("/"):
        if piece == "..":
            raise Refusal(
                f"{name} contains a path that climbs out of the archive ({raw}), which could overwrite files "
                "elsewhere: Polydesk refuses the whole archive. Create it again from the folder itself."
            )
        if piece in ("", "."):
            continue
        cleaned = clean_component(piece)
        if not cleaned or cleaned in (".", ".."):
            raise Refusal(f"{name} contains an unusable name ({raw!r}): rename it and create the archive again.")
        parts.append(cleaned)
    if len("/".join(parts).encode()) > MAX_PATH_BYTES:
        raise Refusal(f"{name} contains a path longer than {MAX_PATH_BYTES} bytes ({raw[:80]}...): shorten it.")
    return parts


def _check_member_header(name: str, raw: str, info: zipfile.ZipInfo, limits: UploadLimits) -> None:
    """Refuse the archive for links, special files, encryption and compression ratios of a bomb."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise Refusal(
            f"{name} contains a symbolic link ({raw}), which could point outside the upload folder: "
            "Polydesk refuses the whole archive. Create it again with the files themselves instead of links."
        )
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise Refusal(f"{name} contains a special file ({raw}) that is not a document: create it again without it.")
    if info.flag_bits & 0x41:
        raise Refusal(
            f"{name} is protected by a password ({raw} is encrypted): create the archive again without a password."
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
        raise Refusal(
            f"{name} looks like a decompression bomb: {raw} claims to unpack {mb(info.compress_size)} into "
            f"{mb(info.file_size)} (ratio {ratio:.0f}, over the limit of {limits.max_compression_ratio:.0f}). "
            "Polydesk refuses the whole archive; upload the documents themselves."
        )
    if info.file_size > limits.max_zip_total_bytes:
        raise Refusal(
            f"{name} contains {raw}, which claims to unpack to {mb(info.file_size)}, over the limit of "
            f"{mb(limits.max_zip_total_bytes)} (POLYDESK_UPLOAD_MAX_UNPACKED_MB): Polydesk refuses the whole archive."
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
        return f"{relative} in {name}: " + too_big(relative, info.file_size, limits.max_file_bytes)
    return None


def _nested(name: str, relative: str) -> str:
    """The message for an archive inside an archive."""
    return (
        f"{name} contains another archive ({relative}); Polydesk does not unpack archives inside archives "
        "and refuses the whole archive. Unpack the inner archive and put its files in the outer one."
    )


def _extract(
    batch: Batch, name: str, archive: zipfile.ZipFile, members: list[_Member], scratch: Path
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
                        raise Refusal(
                            f"{name} looks like a decompression bomb: {member.relative} unpacks to more than its "
                            f"header declares ({mb(member.info.file_size)}) or more than the limits allow. "
                            "Polydesk refuses the whole archive."
                        )
                    target.write(chunk)
        except Refusal:
            raise
        except Exception as exc:  # a damaged member can fail in zipfile, zlib, bz2 or lzma
            raise Refusal(
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
            raise Refusal(_nested(name, member.relative))
        if suffix != ".docx":
            return f"{member.relative} in {name} is a Word document, not a {suffix} file: rename it .docx."
        return None
    if any(head.startswith(magic) for magic, _ in OTHER_ARCHIVES):
        raise Refusal(_nested(name, member.relative))
    reason = content_mismatch(member.relative, head)
    return f"{reason} (in {name}; it was left out)" if reason else None
