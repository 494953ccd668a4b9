"""Which files an ingest reads, the unique source name of each, its language folder, and what it skips.

The rule: sources are relative to the deepest folder that holds every input, a folder given counting as
holding itself. One folder keeps the paths inside it (`docs/setup.md`); `site/en site/zh-cn` become
`en/...` and `zh-cn/...`; files are named relative to their common folder. So every call gives distinct,
stable names, and the same call gives the same names every time.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from core.errors import BadInput
from core.knowledge.ingest.parse import FORMATS

SPEC_SUFFIXES = {".json", ".yaml", ".yml"}  # ingested from a folder only when they look like OpenAPI
SNIFF_BYTES = 1_000_000
OPENAPI_KEY = re.compile(rb"""(?m)^(?:\{\s*)?["']?(?:openapi|swagger)["']?\s*:""")
LANGUAGE_FOLDER = re.compile(r"^([a-z]{2})(?:[-_](?:[a-z]{2}|[a-z]{4}|\d{3}))?$", re.IGNORECASE)


@dataclass(frozen=True)
class PlannedFile:
    """A file to ingest, its source name, and the language of the language folder it lives in (if any)."""

    path: Path
    source: str
    language: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file found in a folder that is not a document, and why it was left out."""

    source: str
    reason: str


@dataclass(frozen=True)
class SourcePlan:
    """The files an ingest reads and the files it skips, in source order."""

    files: tuple[PlannedFile, ...]
    skipped: tuple[SkippedFile, ...]


def plan_sources(paths: Iterable[Path]) -> SourcePlan:
    """Name every input file by the documented rule; refuse two files that would share a source."""
    inputs = list(dict.fromkeys(Path(os.path.abspath(p)) for p in paths))
    if not inputs:
        return SourcePlan((), ())
    base = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in inputs]))
    found: dict[Path, tuple[str, bool]] = {}  # file -> (source, named explicitly)
    for path in inputs:
        if path.is_dir():
            for file in sorted(f for f in path.rglob("*") if f.is_file() and not _hidden(f.relative_to(path))):
                found.setdefault(file, (file.relative_to(base).as_posix(), False))
        else:
            found[path] = (path.relative_to(base).as_posix(), True)
    _refuse_clashes(found)
    files, skipped = [], []
    for path, (source, explicit) in sorted(found.items(), key=lambda item: item[1][0]):
        reason = None if explicit else skip_reason(path)
        if reason:
            skipped.append(SkippedFile(source, reason))
        else:
            files.append(PlannedFile(path, source, folder_language(f"{base.name}/{source}")))
    return SourcePlan(tuple(files), tuple(skipped))


def legacy_sources(paths: Iterable[Path], plan: SourcePlan) -> set[str]:
    """The names an older Polydesk gave these files: relative to the folder given, a file by its own name."""
    folders = [Path(os.path.abspath(p)) for p in paths if Path(p).is_dir()]
    names = set()
    for file in plan.files:
        folder = next((f for f in folders if file.path.is_relative_to(f)), None)
        names.add(file.path.relative_to(folder).as_posix() if folder else file.path.name)
    return names - {f.source for f in plan.files}


def skip_reason(path: Path) -> str | None:
    """Why a file found in a folder is not a document (an image, a stylesheet, a site configuration); None if it is."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        return f"not a document ({suffix or 'no extension'}); Polydesk reads {', '.join(FORMATS)}"
    if suffix in SPEC_SUFFIXES and not looks_like_openapi(path):
        return f"a {suffix} file that is not an OpenAPI specification (no top-level `openapi` or `swagger` key)"
    return None


def looks_like_openapi(path: Path) -> bool:
    """Whether a JSON or YAML file has a top-level `openapi` or `swagger` key near its start."""
    try:
        with path.open("rb") as file:
            head = file.read(SNIFF_BYTES)
    except OSError:
        return True  # let the parser report why it cannot be read
    return bool(OPENAPI_KEY.search(head.lstrip(b"\xef\xbb\xbf")))


def folder_language(source: str) -> str | None:
    """The ISO 639-1 code of the outermost language folder of a path (`zh-cn/docs/a.md` -> "zh"), or None."""
    for part in PurePosixPath(source).parts[:-1]:
        match = LANGUAGE_FOLDER.match(part)
        if match and match[1].lower() in _known_languages():
            return match[1].lower()
    return None


@lru_cache(maxsize=1)
def _known_languages() -> frozenset[str]:
    """The ISO 639-1 codes language detection knows (Lingua's 75 languages)."""
    from core.knowledge.language import ALL_LANGUAGES, language_codes

    return frozenset(language_codes(ALL_LANGUAGES))


def _refuse_clashes(found: dict[Path, tuple[str, bool]]) -> None:
    """Two files whose sources differ only in letter case or Unicode form would overwrite each other."""
    seen: dict[str, Path] = {}
    for path, (source, _) in found.items():
        key = unicodedata.normalize("NFC", source).casefold()
        if key in seen:
            raise BadInput(
                f"{seen[key]} and {path} would both be stored as the document {source!r} (names that differ "
                "only in letter case or accents are one document): rename one of them, or ingest them into "
                "separate collections. Nothing was written."
            )
        seen[key] = path


def _hidden(relative: Path) -> bool:
    """Dot-files and dot-folders are skipped when a folder is ingested."""
    return any(part.startswith(".") for part in relative.parts)
