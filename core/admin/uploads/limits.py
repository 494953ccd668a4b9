"""The limits of one batch of uploads, what a batch staged and refused, and the refusal messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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


class Refusal(Exception):
    """One upload (or a whole archive) is refused; the message is the reason."""


@dataclass
class Batch:
    """Mutable state of one stage_uploads call."""

    folder: Path
    limits: UploadLimits
    staged: list[str] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # casefolded relative paths of staged files
    dirs: set[str] = field(default_factory=set)  # casefolded relative folders they live in
    unpacked: int = 0  # bytes the batch's archives have unpacked so far




def too_big(name: str, size: int, max_bytes: int) -> str:
    """The message for a file over the size limit."""
    return (
        f"{name} is {mb(size)}, over the limit of {mb(max_bytes)} for one file: "
        "split it into smaller files, or raise the limit with the setting POLYDESK_MAX_FILE_MB."
    )


def mb(size: int) -> str:
    """Bytes as megabytes for a message, e.g. '20.0 MB' (kilobytes below 0.1 MB, e.g. '2.5 kB')."""
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"
