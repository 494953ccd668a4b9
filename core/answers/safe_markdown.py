"""Markdown made safe to show an agent: nothing loads by itself, and only web and mail links stay live.

A passage (or an answer that repeats one) may carry `![](https://host/?q=...)` or `<img src=...>`; a browser
would fetch that image unasked and so send the question to any host. Images become links the agent may
choose to open; links, link definitions and autolinks with another scheme (`javascript:`, `data:`, ...) are
broken into plain text. Code spans and fenced code blocks are left as written: they are shown as text anyway.
Every pattern is linear in the text's length, so a hostile passage cannot stall the page.
"""

from __future__ import annotations

import html
import re
from urllib.parse import unquote, urlsplit

LIVE_SCHEMES = frozenset({"http", "https", "mailto"})
_CODE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)|`[^`\n]*`")
_LOADING = r"(?:img|image|picture|source|video|audio|iframe|embed|object|svg|link|input)\b"
_LOADING_TAG = re.compile(r"(?i)<\s*(" + _LOADING + r")[^<>]{0,2000}>")
_LOADING_OPEN = re.compile(r"(?i)<(?=\s*" + _LOADING + ")")
_SRC = re.compile(r"""(?i)\b(?:src|href|srcset|data|poster)\s*=\s*["']?([^"'\s>]+)""")
_IMAGE_OPEN = re.compile(r"!\[[ \t]*(\]?)")
_DESTINATION = re.compile(r"\]\([ \t]*<?([^\s()<>]{0,200})")
_DEFINITION = re.compile(r"(?m)^([ ]{0,3})(\[[^\]\n]{1,999}\]:[ \t]*<?([^\s<>]{0,200}))")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:)")


def safe_markdown(text: str) -> str:
    """The Markdown with images turned into links to open by hand and non-web links made inert text."""
    pieces, last = [], 0
    for code in _CODE.finditer(text):
        pieces += [_neutralise(text[last:code.start()]), code.group(0)]
        last = code.end()
    pieces.append(_neutralise(text[last:]))
    return "".join(pieces)


def is_live(url: str) -> bool:
    """Whether a link may stay clickable: http(s) or mailto, or relative (no scheme, not protocol-relative)."""
    cleaned = re.sub(r"[\x00-\x20]", "", unquote(html.unescape(url)))
    scheme = urlsplit(cleaned).scheme.lower() if ":" in cleaned else ""
    return scheme in LIVE_SCHEMES or (not scheme and not cleaned.startswith(("//", "\\\\", "/\\")))


def _neutralise(text: str) -> str:
    """Loading HTML tags, images, link definitions, links and autolinks of one stretch of prose."""
    text = _LOADING_TAG.sub(_tag, text)
    text = _LOADING_OPEN.sub(r"\\<", text)  # a loading tag too long to read is shown as text
    text = _IMAGE_OPEN.sub(lambda m: "[🖼 image]" if m.group(1) else "[🖼 ", text)
    text = _DEFINITION.sub(lambda m: m.group(0) if is_live(m.group(3)) else f"{m.group(1)}\\{m.group(2)}", text)
    text = _DESTINATION.sub(lambda m: m.group(0) if is_live(m.group(1)) else "] (" + m.group(0)[2:], text)
    return _AUTOLINK.sub(lambda m: m.group(0) if _is_web(m.group(1)) else "\\" + m.group(0), text)


def _tag(match: re.Match[str]) -> str:
    """An HTML tag that would load something, shown as a link to what it would load (web addresses only)."""
    source = _SRC.search(match.group(0))
    kind = match.group(1).lower()
    if source and _is_web(source.group(1)):
        return f"[🖼 {kind}]({source.group(1)})"
    return f"🖼 {kind} (not shown)"


def _is_web(url: str) -> bool:
    """Whether an address is an absolute http(s) URL."""
    return urlsplit(html.unescape(url).strip()).scheme.lower() in ("http", "https")
