"""The files admins uploaded, kept per collection so that a collection can be re-ingested from the app."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from core.errors import BadFile
from core.knowledge.store import check_collection_name

INCOMING = ".incoming"  # batches being staged and ingested; never part of the kept files
KEPT = "files"


class UploadLibrary:
    """`root/<collection>/files/<source>` holds the last good upload of every source ingested from the app."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, collection: str) -> Path:
        """Where a collection's kept files live (relative paths inside are the chunks' sources)."""
        check_collection_name(collection)
        return self.root / collection / KEPT

    def new_batch(self, collection: str) -> Path:
        """A fresh, empty folder to stage one batch of uploads in."""
        check_collection_name(collection)
        batch = self.root / collection / INCOMING / uuid.uuid4().hex
        batch.mkdir(parents=True)
        return batch

    def keep(self, collection: str, batch: Path, sources: Iterable[str]) -> None:
        """Move these ingested sources from a batch into the kept files, replacing older uploads of the same name."""
        folder = self.folder(collection)
        for source in sources:
            target = self._inside(folder, source)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._inside(batch, source), target)

    def discard(self, batch: Path) -> None:
        """Remove a staged batch and everything in it."""
        shutil.rmtree(batch, ignore_errors=True)

    def has_files(self, collection: str) -> bool:
        """Whether any uploaded file of the collection is kept."""
        folder = self.folder(collection)
        return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))

    def remove(self, collection: str, source: str) -> None:
        """Forget one kept source file (nothing happens when it was not uploaded through the app)."""
        self._inside(self.folder(collection), source).unlink(missing_ok=True)

    def delete(self, collection: str) -> None:
        """Forget every file of a collection."""
        check_collection_name(collection)
        shutil.rmtree(self.root / collection, ignore_errors=True)

    @staticmethod
    def _inside(folder: Path, source: str) -> Path:
        """`folder/source`, refusing a source that would lead outside the folder."""
        target = folder / source
        if not target.resolve().is_relative_to(folder.resolve()):
            raise BadFile(f"{source!r} is not a file name inside the upload folder; Polydesk refuses it.")
        return target
