"""Lexical indexes that outlive the process: saved once per collection revision, memory-mapped when loaded.

Each collection has a folder; each revision of it a subfolder written whole under a temporary name and then
renamed, so a reader (in this process or another) finds a complete index or none. After a restart the index of
the store's current revision is mapped from disk instead of rebuilt from Chroma; when the revision changes, the
new index is updated from the previous one: only chunks not seen before are read and tokenised.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from core.knowledge.lexical import LexicalIndex, TokenCache
from core.knowledge.store import ChromaStore

log = logging.getLogger(__name__)


class LexicalIndexes:
    """One BM25 index per collection of a store, kept in memory, saved per revision, updated from the previous one."""

    def __init__(self, store: ChromaStore, folder: Path | None) -> None:
        self.store = store
        self.folder = folder
        self._indexes: dict[str, tuple[str, LexicalIndex]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, revision: str) -> LexicalIndex:
        """The collection's index at this revision: from memory, from disk, or updated from the previous one."""
        with self._lock:
            cached = self._indexes.get(name)
            if cached is not None and cached[0] == revision:
                return cached[1]
            index = self._load(name, revision) or self._update(name, revision, cached[1] if cached else None)
            self._indexes[name] = (revision, index)
            return index

    def _update(self, name: str, revision: str, previous: LexicalIndex | None) -> LexicalIndex:
        """A new index of the store's chunks, tokenising only those the previous index did not hold."""
        cache = previous.cache if previous and previous.cache else self._latest_cache(name)
        languages = self.store.chunk_languages(name)
        missing = cache.missing(list(languages))
        texts = {chunk.id: chunk.text for chunk in self.store.chunks(name, missing)}
        gone = set(missing) - set(texts)  # removed by a write after the ids were read
        ids = [i for i in languages if i not in gone]
        index = LexicalIndex(ids, [texts.get(i, "") for i in ids], [languages[i] for i in ids], cache)
        if self.store.info(name).revision == revision:  # saved only if no write landed while it was built
            self._save(name, revision, index)
        return index

    def _collection_folder(self, name: str) -> Path | None:
        """Where this collection's saved indexes live, or None when indexes are not saved."""
        return self.folder / name if self.folder else None

    def _load(self, name: str, revision: str) -> LexicalIndex | None:
        """The saved index of this revision, memory-mapped, or None when there is none (or it cannot be read)."""
        folder = self._collection_folder(name)
        if folder is None or not (folder / revision).is_dir():
            return None
        try:
            return load_index(folder / revision)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Saved lexical index %s unreadable, rebuilding it: %s", folder / revision, exc)
            return None

    def _latest_cache(self, name: str) -> TokenCache:
        """The token cache of the newest saved revision of this collection, or an empty one."""
        folder = self._collection_folder(name)
        saved = sorted(folder.glob("[!.]*"), key=lambda p: p.stat().st_mtime) if folder and folder.is_dir() else []
        for candidate in reversed(saved):
            try:
                return load_cache(candidate)
            except (OSError, ValueError, KeyError):
                continue
        return TokenCache()

    def _save(self, name: str, revision: str, index: LexicalIndex) -> None:
        """Write the index under a temporary name, rename it into place, and remove older revisions."""
        folder = self._collection_folder(name)
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
            save_index(index, staging)
            try:
                os.rename(staging, folder / revision)
            except OSError:  # another process saved this revision first
                shutil.rmtree(staging, ignore_errors=True)
            for old in folder.iterdir():
                if old.name != revision and not old.name.startswith(".staging-"):
                    shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            log.warning("Could not save the lexical index of %s in %s (it is rebuilt after a restart): %s",
                        name, folder, exc)


def save_index(index: LexicalIndex, folder: Path) -> None:
    """Write an index's ids, languages, token rows, vocabulary and BM25 model into a folder."""
    cache = index.cache or TokenCache()
    languages = [index.language_of[i] for i in index.ids]
    rows = cache.rows(index.ids, [""] * len(index.ids), languages)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(row) for row in rows], out=offsets[1:])
    np.save(folder / "tokens.npy", np.concatenate(rows) if rows else np.zeros(0, dtype=np.int32))
    np.save(folder / "offsets.npy", offsets)
    _write_json(folder / "ids.json", list(index.ids))
    _write_json(folder / "languages.json", languages)
    _write_json(folder / "vocabulary.json", cache.vocabulary)
    if index.bm25 is not None:
        index.bm25.save(folder / "bm25", show_progress=False)


def load_index(folder: Path) -> LexicalIndex:
    """A saved index with its BM25 model memory-mapped; token rows stay on disk until an update needs them."""
    ids, languages = _read_json(folder / "ids.json"), _read_json(folder / "languages.json")
    bm25 = None
    if (folder / "bm25").is_dir():
        bm25 = bm25s.BM25.load(folder / "bm25", mmap=True, show_progress=False)
    return LexicalIndex.loaded(ids, languages, bm25)


def load_cache(folder: Path) -> TokenCache:
    """The token rows and vocabulary of a saved index, the rows memory-mapped."""
    ids: Sequence[str] = _read_json(folder / "ids.json")
    tokens = np.load(folder / "tokens.npy", mmap_mode="r")
    offsets = np.load(folder / "offsets.npy")
    if len(offsets) != len(ids) + 1:
        raise ValueError(f"{folder}: {len(ids)} ids but {len(offsets) - 1} token rows")
    rows = {chunk_id: tokens[offsets[i]:offsets[i + 1]] for i, chunk_id in enumerate(ids)}
    return TokenCache(_read_json(folder / "vocabulary.json"), rows)


def _write_json(path: Path, value: object) -> None:
    """Compact UTF-8 JSON."""
    path.write_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _read_json(path: Path) -> object:
    """JSON read back."""
    return json.loads(path.read_text(encoding="utf-8"))
