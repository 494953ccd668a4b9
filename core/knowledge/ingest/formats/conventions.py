"""Site-generator markup in Markdown turned into the text readers see: comments, shortcodes, admonitions."""

from __future__ import annotations

import re

LABELS = {"seealso": "See also", "todo": "To do", "faq": "FAQ", "tldr": "TL;DR"}
KINDS = {
    "note", "tip", "info", "warning", "caution", "danger", "important", "success", "question", "example", "quote",
    "abstract", "bug", "failure", "hint", "attention", "error", "seealso", "todo", "check", "summary", "faq", "help",
    "tldr",
}
BOXES = ("note", "tip", "info", "warning", "caution", "danger", "important", "alert", "callout", "notice", "hint",
         "admonition", "aside")  # Hugo shortcodes that frame a labelled box
COMMENT = re.compile(r"<!--.*?(?:-->|\Z)([ \t]*)", re.S)
SHORTCODE_COMMENT = re.compile(r"\{\{[<%]/\*(?:(?!\{\{).)*?\*/[>%]\}\}", re.S)  # {{</* shown literally */>}}
SHORTCODE = re.compile(r"\{\{[<%]-?\s*(/?)\s*([\w./-]+)((?:(?!\{\{|[>%]\}\}).)*)[>%]\}\}", re.S)  # never past a {{
ARGUMENT = re.compile(r'(?:([\w-]+)\s*=\s*)?(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|([^\s"`=]+))')
INCLUDE_LINE = re.compile(r"^[ \t]*(?:\{\*.*\*\}|-{2}8<-{2}.*)[ \t]*$", re.M)  # MkDocs {* x.py *}, --8<-- "x"
COLON_OPEN = re.compile(r"^ {0,3}(:{3,})\s*([A-Za-z][\w-]*)\s*(?:\[([^\]]*)\])?\s*(?:\{[^}]*\})?\s*(.*)$")
COLON_CLOSE = re.compile(r"^ {0,3}(:{3,})\s*$")
GFM_ALERT = re.compile(r"^\s*>\s*\[!(\w+)\][+-]?[ \t]*(.*)$")
MKDOCS_OPEN = re.compile(r'^(\s*)(!!!|\?\?\?\+?|===\+?)\s*(?:([\w-]+)(?:\s+[\w-]+)*)?\s*(?:"(.*)")?\s*$')
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def resolve(text: str) -> str:
    """Comments dropped; Hugo shortcodes, `:::` and GFM admonitions and include markers turned into plain text."""
    if "<!--" in text:  # each pass runs only where its marker occurs: most pages use one convention or none
        text = COMMENT.sub(_without_comment, text)
    if "{{" in text:
        text = _shortcodes(SHORTCODE_COMMENT.sub("", text))
    if "{*" in text or "--8<--" in text:
        text = INCLUDE_LINE.sub("", text)
    if ":::" in text:
        text = _colon_blocks(text.split("\n"))
    return _gfm_alerts(text) if "[!" in text else text


def _without_comment(match: re.Match[str]) -> str:
    """Nothing for a comment; the blank after it only when no blank precedes it ("a <!-- x --> b" is "a b")."""
    before = match.string[match.start() - 1] if match.start() else "\n"
    return "" if before in " \t\n" else match.group(1)


def labelled(kind: str, title: str, body: str) -> str:
    """An admonition as a paragraph: "Tip: body", or "Tip: Title" above its body; set apart by blank lines."""
    label = LABELS.get(kind.lower(), kind.replace("-", " ").replace("_", " ").capitalize())
    title, body = title.strip(), body.strip("\n")
    if title and title.casefold() != label.casefold():
        return f"\n\n{label}: {title}\n\n{body}\n\n"
    if body and not re.match(r"\s*(?:[#>|*+\-`<\x00]|\d+[.)])", body):
        return f"\n\n{label}: {body.lstrip()}\n\n"
    return f"\n\n{label}:\n\n{body}\n\n"


def _arguments(raw: str) -> tuple[list[str], dict[str, str]]:
    """A shortcode's positional and named arguments."""
    positional: list[str] = []
    named: dict[str, str] = {}
    for match in ARGUMENT.finditer(raw):
        key, value = match.group(1), next((g for g in match.groups()[1:] if g is not None), "")
        if key:
            named[key.lower()] = value
        else:
            positional.append(value)
    return positional, named


def _shortcodes(text: str) -> str:
    """Box shortcodes (note, alert, ...) around a body become labelled text; others their visible text or nothing."""
    out: list[str] = []
    open_boxes: list[tuple[str, str, int]] = []  # name, arguments, where its body starts in `out`
    position = 0
    for match in SHORTCODE.finditer(text):
        out.append(text[position : match.start()])
        position = match.end()
        closing, name, raw = match.group(1), match.group(2).lower(), match.group(3).rstrip(" \t\n/-")
        if name in BOXES and not closing:
            open_boxes.append((name, raw, len(out)))
        elif name in BOXES and any(box[0] == name for box in open_boxes):
            while open_boxes[-1][0] != name:  # an inner box never closed: its markers are dropped
                open_boxes.pop()
            _, raw, start = open_boxes.pop()
            body = "".join(out[start:])
            del out[start:]
            out.append(_box(name, raw, body))
        elif not closing:
            out.append(_shortcode_text(name, raw))
    out.append(text[position:])
    return "".join(out)


def _box(name: str, raw: str, body: str) -> str:
    """One box shortcode: its kind from the name or an argument, its optional title, its body."""
    positional, named = _arguments(raw)
    candidates = [name, *positional, named.get("type", ""), named.get("color", ""), named.get("title", "")]
    kind = next((c.lower() for c in candidates if c.lower() in KINDS), "note")
    title = named.get("title", "")
    return labelled(kind, "" if title.lower() == kind else title, body)


def _shortcode_text(name: str, raw: str) -> str:
    """What a shortcode shows: a tooltip's text, a tab's name, a reference's target; nothing when unknown."""
    positional, named = _arguments(raw)
    if "text" in named:
        return named["text"]
    if name in ("ref", "relref"):
        return named.get("path") or (positional[0] if positional else "")
    if "tab" in name:
        label = named.get("name") or named.get("header") or named.get("title") or (positional[0] if positional else "")
        return f"\n\n{label}\n\n" if label else ""
    return ""


def _colon_blocks(lines: list[str]) -> str:
    """Docusaurus/Starlight `:::kind[Title]` ... `:::` containers, nested, as labelled text; stray markers dropped."""
    out: list[str] = []
    open_blocks: list[tuple[str, str, int]] = []  # kind, title, where its body starts in `out`
    for line in lines:
        opening = COLON_OPEN.match(line)
        if opening:
            open_blocks.append((opening.group(2), opening.group(3) or opening.group(4).strip(), len(out)))
        elif not COLON_CLOSE.match(line):
            out.append(line)
        elif open_blocks:
            kind, title, start = open_blocks.pop()
            body = "\n".join(out[start:])
            del out[start:]
            out.append(labelled(kind, title, body) if kind.lower() in KINDS or title else f"\n\n{body}\n\n")
    return "\n".join(out)


def _gfm_alerts(text: str) -> str:
    """GitHub `> [!NOTE]` alerts (and Obsidian-style `> [!tip] Title` callouts) as labelled text."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        alert = GFM_ALERT.match(lines[i])
        if not alert:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].lstrip().startswith(">"):
            j += 1
        body = "\n".join(re.sub(r"^\s*> ?", "", line) for line in lines[i + 1 : j])
        out.append(labelled(alert.group(1), alert.group(2), _gfm_alerts(body)))
        i = j
    return "\n".join(out)


def unindent_mkdocs(text: str) -> str:
    """MkDocs `!!! note "Title"`, `??? tip` and `=== "Tab"` blocks (bodies indented by 4) as unindented text."""
    if "!!!" not in text and "???" not in text and "===" not in text:
        return text
    lines = text.split("\n")
    out: list[str] = []
    fence = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = FENCE.match(line)
        if fence or marker:
            if marker and (not fence or marker.group(1).startswith(fence)):
                fence = "" if fence else marker.group(1)
            out.append(line)
            i += 1
            continue
        opening = MKDOCS_OPEN.match(line)
        if not opening or (opening.group(2).startswith("===") and opening.group(4) is None):
            out.append(line)
            i += 1
            continue
        indent = opening.group(1)
        inner = indent + "    "
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith((inner, indent + "\t"))):
            j += 1
        body = "\n".join(_dedent(line, inner) for line in lines[i + 1 : j])
        body = unindent_mkdocs(body)
        if opening.group(2).startswith("==="):
            out.append(f"\n{opening.group(4)}\n\n{body}\n")
        else:
            out.append(labelled(opening.group(3) or "note", opening.group(4) or "", body))
        i = j
    return "\n".join(out)


def _dedent(line: str, inner: str) -> str:
    """A body line without its block's indentation."""
    if line.startswith(inner):
        return line[len(inner) :]
    return line.lstrip("\t") if line.strip() else ""
