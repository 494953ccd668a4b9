"""The public address of a chunk: its source path mapped the way static site generators publish pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote, urlsplit

from core.errors import BadInput

INDEX_STEMS = {"index", "_index", "readme"}  # pages served as their folder
UNLINKED_SUFFIXES = {".json", ".yaml", ".yml"}  # API specifications are not published as pages
PAGE_SUFFIXES = {".md", ".mdx", ".markdown", ".html", ".htm", ".rst"}  # rendered as pages; other files as they are


@dataclass(frozen=True)
class SiteLinks:
    """A collection's link settings: the site's base URL, the language served without its folder, the extension."""

    base_url: str = ""
    default_language_folder: str = ""  # e.g. "en" when /docs/setup/ serves en/docs/setup.md
    extension: str = ""  # "" publishes docs/setup.md as docs/setup/; ".html" as docs/setup.html


def check_links(links: SiteLinks) -> SiteLinks:
    """The settings cleaned up, or a BadInput that says what to change."""
    base = links.base_url.strip()
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadInput(f"The base URL {base!r} is not an http(s) address: give the published site's address, "
                           "e.g. https://docs.example.com/ (or an empty value to store no links).")
        base = base if base.endswith("/") else base + "/"
    extension = links.extension.strip()
    if extension and (not extension.startswith(".") or "/" in extension):
        raise BadInput(f"The URL extension {extension!r} must start with a dot, e.g. .html (or be empty for "
                       "addresses that end in a slash).")
    return SiteLinks(base, links.default_language_folder.strip().strip("/"), extension)


def page_path(source: str, links: SiteLinks) -> str:
    """The page's path below the base URL: extension dropped, index/_index/README as their folder; a PDF, .docx
    or text file keeps its name, since sites serve such files as they are."""
    path = PurePosixPath(source)
    folders = list(path.parts[:-1])
    default = links.default_language_folder.casefold()
    if default and default in (f.casefold() for f in folders):
        folders.pop([f.casefold() for f in folders].index(default))
    if path.suffix.lower() not in PAGE_SUFFIXES:
        return "/".join([*folders, path.name])
    if path.stem.casefold() in INDEX_STEMS:
        return "".join(f"{f}/" for f in folders)
    leaf = path.stem + (links.extension or "/")
    return "/".join([*folders, leaf])


def page_url(source: str, links: SiteLinks, url_hint: str = "") -> str:
    """The page's address: the page's own URL (front matter or canonical link) when given, else its mapped path."""
    if not links.base_url or PurePosixPath(source).suffix.lower() in UNLINKED_SUFFIXES:
        return ""
    hint = url_hint.strip()
    if urlsplit(hint).scheme in ("http", "https"):
        return hint
    if hint.startswith("/") or "/" in hint.strip("/"):
        return links.base_url + quote(hint.lstrip("/"), safe="/")
    path = page_path(source, links)
    if hint:  # a slug names the page within its folder
        folder = path.rstrip("/").rpartition("/")[0]
        path = f"{folder}/" * bool(folder) + hint + (links.extension or "/")
    return links.base_url + quote(path, safe="/")


def chunk_url(page: str, anchor: str = "", page_number: str = "") -> str:
    """A page's address with the section: `#page=N` for a PDF page, `#anchor` for a heading."""
    if not page:
        return ""
    page = page.split("#")[0]
    if page_number:
        return f"{page}#page={page_number}"
    return f"{page}#{quote(anchor, safe='-._~')}" if anchor else page



def link_markdown(label: str, url: str) -> str:
    """A Markdown link (Streamlit opens it in a new tab) whose label cannot break out of its brackets."""
    clean = label.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"[{clean}](<{url.replace('>', '%3E').replace(' ', '%20')}>)"
