"""HTML pages: the main content as Markdown, without comments, navigation chrome or permalink anchors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.errors import BadFile
from core.knowledge.ingest.formats.text import prose_document
from core.types import ParsedDocument

NOISE_TAGS = ["script", "style", "noscript", "template", "nav", "aside", "form", "button", "iframe", "svg", "canvas"]
NOISE_ROLES = ["navigation", "banner", "contentinfo", "complementary", "search"]
ADMONITIONS = "div.admonition, aside.admonition, details.admonition, aside.starlight-aside, div.theme-admonition"
ADMONITION_TITLES = ".admonition-title, .starlight-aside__title, [class*=admonitionHeading], summary"
NOISE_SELECTORS = (
    "a.headerlink, a.hash-link, a.anchor-link, .sphinxsidebar, div.related, .rst-footer-buttons, "
    ".wy-nav-side, .md-sidebar, .md-source-file, .toctree-wrapper, div.footer"
)


def parse_html(text: str, path: Path) -> ParsedDocument:
    """Main content only (no navigation, header, footer, sidebars, scripts), as Markdown with `#` headings."""
    from bs4 import BeautifulSoup, Comment
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(text, "lxml")
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    meta = soup.find("meta", attrs={"name": "description"})
    description = " ".join(str(meta.get("content") or "").split()) if meta else ""
    root = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article") or soup.body or soup
    _label_admonitions(root)
    noise = root.find_all(NOISE_TAGS) + root.find_all(attrs={"role": NOISE_ROLES}) + root.select(NOISE_SELECTORS)
    noise += [tag for tag in root.find_all(["header", "footer"]) if tag.find_parent("article") is None]
    for tag in noise:
        if not tag.decomposed:
            tag.decompose()
    converter = MarkdownConverter(heading_style="ATX", bullets="-", escape_underscores=False, escape_asterisks=False)
    markdown = re.sub(r"\n{3,}", "\n\n", converter.convert_soup(root)).strip()
    if not markdown:
        raise BadFile(
            f"{path.name} has no readable text in its main content (it may be built by JavaScript in the browser): "
            "save the rendered page, or export the documentation as Markdown or PDF."
        )
    h1 = root.find("h1")
    title = title or (h1.get_text(" ", strip=True) if h1 else "") or path.stem
    canonical = soup.find("link", rel="canonical")
    url_hint = str(canonical.get("href") or "").strip() if canonical else ""
    return prose_document(title, description, markdown, url_hint)


def _label_admonitions(root: Any) -> None:
    """Sphinx, MkDocs, Docusaurus and Starlight admonitions start with "Title: " instead of a title box."""
    for box in root.select(ADMONITIONS):
        box.name = "div"  # a Starlight aside is content, not a sidebar
        heading = box.select_one(ADMONITION_TITLES)
        if heading is None:
            continue
        label = heading.get_text(" ", strip=True).rstrip(":")
        label = label[:1].upper() + label[1:]
        heading.decompose()
        first = box.find("p")
        if label and first is not None:
            first.insert(0, f"{label}: ")
        elif label:
            box.insert(0, f"{label}: ")
