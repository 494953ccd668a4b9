"""Writing staged files: atomically, never outside the staging folder, an archive's files all or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.admin.uploads.limits import Batch, Refusal


def inside(folder: Path, target: Path) -> None:
    """Refuse a target that resolves outside the staging folder (through a link already on disk)."""
    if not target.parent.resolve().is_relative_to(folder.resolve()):
        raise Refusal(f"{target.name} would be written outside the upload folder: Polydesk refuses it.")


def write_atomic(folder: Path, relative: str, data: bytes) -> None:
    """Write to a hidden temporary file next to the target, then rename it over the target in one step."""
    target = folder / relative
    inside(folder, target)
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




def commit(batch: Batch, kept: list[tuple[Path, str]]) -> None:
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
            inside(batch.folder, target)
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
