"""parse_file on real Markdown, MDX, HTML, PDF, DOCX and text files, and on every kind of bad file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfWriter

from core.errors import BadFile
from core.knowledge.ingest.parse import parse_file
from core.types import Block


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """A file in tmp_path with the given text (UTF-8) or bytes."""
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def only_prose(parsed) -> str:
    """The text of a document's single prose block."""
    assert len(parsed.blocks) == 1
    block = parsed.blocks[0]
    assert isinstance(block, Block) and block.kind == "prose"
    return block.text


def make_pdf(pages: list[str], *, title: str | None = None, subject: str | None = None) -> bytes:
    """A PDF with one text line per page, written by fpdf2."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if subject:
        pdf.set_subject(subject)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(w=0, text=text)
    return bytes(pdf.output())


def encrypt(data: bytes, user_password: str) -> bytes:
    """The PDF encrypted with pypdf (owner password set, user password as given)."""
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(document: docx.document.Document) -> bytes:
    """A python-docx document saved to bytes."""
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def bad(path: Path, **kwargs) -> str:
    """The message of the BadFile that parsing `path` raises."""
    with pytest.raises(BadFile) as info:
        parse_file(path, **kwargs)
    return str(info.value)


# --- Markdown and MDX -----------------------------------------------------------------------------------------

MARKDOWN = """---
title: Primeros pasos
description: "Cómo crear tu primera API"
tags: [tutorial]
---

# Primeros pasos { #first-steps }

El archivo más simple de FastAPI:

{* ../../docs_src/first_steps/tutorial001_py39.py hl[3] *}

Cópialo en un archivo `main.py`.

## Título { #same-anchor }

```python
# not a heading
{* this stays: it is inside a code fence *}
```

### 手順 { #steps }

テキスト。
"""


def test_markdown_front_matter_markers_and_anchors(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "first-steps.md", MARKDOWN))
    text = only_prose(parsed)
    assert parsed.title == "Primeros pasos"
    assert parsed.description == "Cómo crear tu primera API"
    assert "title:" not in text and "tags:" not in text and not text.startswith("---")
    assert text.startswith("# Primeros pasos { #first-steps }")
    assert "docs_src/first_steps" not in text
    assert "## Título { #same-anchor }" in text.splitlines()
    assert "### 手順 { #steps }" in text.splitlines()
    assert "{* this stays: it is inside a code fence *}" in text
    assert "archivo más simple de FastAPI:\n\nCópialo" in text  # the marker leaves no double gap


def test_markdown_title_from_first_h1_not_from_code(tmp_path: Path) -> None:
    source = "Intro.\n\n```bash\n# install it\npip install x\n```\n\n# Déploiement **Docker** { #docker }\n\nTexte.\n"
    parsed = parse_file(write(tmp_path, "deploy.markdown", source))
    assert parsed.title == "Déploiement Docker"
    assert parsed.description == ""
    assert "# install it" in only_prose(parsed)


def test_markdown_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "release-notes.md", "## Version 2\n\nFixed things.\n"))
    assert parsed.title == "release-notes"
    assert only_prose(parsed) == "## Version 2\n\nFixed things."


def test_mdx_drops_imports_exports_and_jsx_only_lines(tmp_path: Path) -> None:
    source = """---
title: Webhooks
---
import Tabs from '@theme/Tabs';
import {
  TabItem,
  Note,
} from '@theme/TabItem';
export const meta = {
  sidebar: 'api',
};

# Webhooks { #webhooks }

<Tabs>
<TabItem value="py" label="Python">

Register the webhook with `POST /v1/webhooks`.

</TabItem>
</Tabs>

{/* editors: keep this short */}

```js
import fetch from 'node-fetch';
```

We export data daily.
"""
    parsed = parse_file(write(tmp_path, "webhooks.mdx", source))
    text = only_prose(parsed)
    assert parsed.title == "Webhooks"
    assert text.startswith("# Webhooks { #webhooks }")
    for gone in ("@theme", "TabItem", "sidebar", "<Tabs>", "editors: keep"):
        assert gone not in text
    assert "Register the webhook with `POST /v1/webhooks`." in text
    assert "import fetch from 'node-fetch';" in text  # inside a code fence
    assert "We export data daily." in text


def test_markdown_keeps_imports_in_plain_md(tmp_path: Path) -> None:
    text = only_prose(parse_file(write(tmp_path, "a.md", "# A\n\nimport this\n")))
    assert "import this" in text


def test_markdown_bad_front_matter_names_the_line(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "x.md", "---\ntitle: ok\ndescription: [unclosed\n---\n\n# X\n"))
    assert "front matter" in message and "not valid YAML" in message and "line" in message


def test_markdown_with_only_front_matter_has_no_blocks(tmp_path: Path) -> None:
    document = parse_file(write(tmp_path, "_index.md", "---\ntitle: Section\nslug: /guides/\n---\n\n\n"))
    assert document.blocks == () and document.title == "Section" and document.url_hint == "/guides/"


def test_markdown_url_hint_prefers_permalink(tmp_path: Path) -> None:
    text = "---\npermalink: /docs/auth/\nslug: auth\n---\n\n# Auth\n\nBody.\n"
    assert parse_file(write(tmp_path, "a.md", text)).url_hint == "/docs/auth/"


def test_html_url_hint_is_the_canonical_link(tmp_path: Path) -> None:
    html = '<html><head><link rel="canonical" href="https://docs.example/auth/"></head><body><p>Hi</p></body></html>'
    assert parse_file(write(tmp_path, "a.html", html)).url_hint == "https://docs.example/auth/"


# --- HTML -----------------------------------------------------------------------------------------------------

HTML_PAGE = """<!doctype html>
<html lang="ar"><head>
<meta charset="utf-8"><title>المصادقة - وثائق API</title>
<meta name="description" content="كيفية المصادقة باستخدام رمز API">
<style>.x { color: red }</style><script>var tracking = "SCRIPT-TEXT";</script>
</head><body>
<header><a href="/">HEADER-LOGO</a></header>
<nav><ul><li><a href="/a">NAV-LINK-ONE</a></li></ul></nav>
<div class="layout">
<aside class="sidebar">SIDEBAR-TEXT</aside>
<main>
  <div role="navigation">BREADCRUMB-TEXT</div>
  <h1 id="auth">المصادقة<a class="headerlink" href="#auth">¶</a></h1>
  <p>أرسل الرمز في ترويسة <code>Authorization</code>.</p>
  <h2>Token_lifetime</h2>
  <ul><li>Tokens expire after <strong>24 hours</strong>.</li></ul>
  <pre><code>curl -H "Authorization: Bearer TOKEN" https://api.example.com</code></pre>
</main>
</div>
<footer>FOOTER-COPYRIGHT</footer>
</body></html>
"""


def test_html_main_content_as_markdown(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "auth.html", HTML_PAGE))
    text = only_prose(parsed)
    assert parsed.title == "المصادقة - وثائق API"
    assert parsed.description == "كيفية المصادقة باستخدام رمز API"
    assert "# المصادقة" in text.splitlines()
    assert "## Token_lifetime" in text.splitlines()
    assert "أرسل الرمز في ترويسة `Authorization`." in text
    assert "- Tokens expire after **24 hours**." in text
    assert 'curl -H "Authorization: Bearer TOKEN"' in text
    for noise in ("HEADER-LOGO", "NAV-LINK", "SIDEBAR", "BREADCRUMB", "FOOTER", "SCRIPT-TEXT", "color: red", "¶"):
        assert noise not in text


def test_html_without_main_uses_body_and_keeps_article_header(tmp_path: Path) -> None:
    page = """<html><body>
<header>SITE-BANNER</header>
<article><header><h1>Rate limits</h1></header><p>At most 100 requests per minute.</p></article>
<footer>SITE-FOOTER</footer></body></html>"""
    parsed = parse_file(write(tmp_path, "limits.htm", page))
    text = only_prose(parsed)
    assert parsed.title == "Rate limits"
    assert text == "# Rate limits\n\nAt most 100 requests per minute."


def test_html_with_nothing_but_navigation_is_refused(tmp_path: Path) -> None:
    page = "<html><head><title>App</title></head><body><nav>Home</nav><script>render()</script></body></html>"
    assert "no readable text" in bad(write(tmp_path, "app.html", page))


# --- PDF ------------------------------------------------------------------------------------------------------


def test_pdf_text_layer_pages_and_metadata(tmp_path: Path) -> None:
    data = make_pdf(["Billing API guide", "Invoices are issued monthly."], title="Billing Guide", subject="Invoices")
    parsed = parse_file(write(tmp_path, "billing.pdf", data))
    assert parsed.title == "Billing Guide"
    assert parsed.description == "Invoices"
    pages = [(block.text, block.metadata) for block in parsed.blocks]
    assert pages == [("Billing API guide", (("page", "1"),)), ("Invoices are issued monthly.", (("page", "2"),))]


def test_pdf_title_from_first_line(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "guide.pdf", make_pdf(["Webhook retries\nWe retry five times."])))
    assert parsed.title == "Webhook retries"
    assert "We retry five times." in only_prose(parsed)


def test_pdf_detected_by_content_under_a_markdown_name(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "renamed.md", make_pdf(["Actually a PDF"])))
    assert only_prose(parsed) == "Actually a PDF"


def test_markdown_about_pdf_headers_stays_markdown(tmp_path: Path) -> None:
    text = only_prose(parse_file(write(tmp_path, "pdf.md", "# Uploads\n\nA PDF starts with `%PDF-1.7`.\n")))
    assert text == "# Uploads\n\nA PDF starts with `%PDF-1.7`."


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    data = encrypt(make_pdf(["Restricted but readable"]), user_password="")
    assert only_prose(parse_file(write(tmp_path, "restricted.pdf", data))) == "Restricted but readable"


def test_pdf_with_password_is_refused(tmp_path: Path) -> None:
    data = encrypt(make_pdf(["Secret text"]), user_password="hunter2")
    message = bad(write(tmp_path, "secret.pdf", data))
    assert "protected by a password" in message and "without password" in message


def test_truncated_pdf_is_refused(tmp_path: Path) -> None:
    data = make_pdf(["Some text"] * 3)
    message = bad(write(tmp_path, "cut.pdf", data[: len(data) * 2 // 3]))
    assert "truncated" in message and "%%EOF" in message


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    data = b"%PDF-1.7\n" + b"\x13garbage that is no PDF object\n" * 20 + b"startxref\n999999\n%%EOF\n"
    assert "damaged" in bad(write(tmp_path, "broken.pdf", data))


def test_scanned_pdf_without_text_layer_needs_ocr(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a drawing, like a scanned page image: no text
    message = bad(write(tmp_path, "scan.pdf", bytes(pdf.output())))
    assert "no text layer" in message and "OCR" in message


def test_text_file_named_pdf_is_refused(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "notes.pdf", "just some notes"))
    assert "not a real .pdf file" in message and "%PDF-" in message


# --- DOCX -----------------------------------------------------------------------------------------------------


def test_docx_headings_lists_tables_and_properties(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "認証ガイド"
    document.core_properties.subject = "APIトークンの使い方"
    document.add_heading("認証", level=1)
    document.add_paragraph("トークンをヘッダーに入れて送信します。")
    document.add_heading("Scopes", level=2)
    document.add_paragraph("read:users", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for cell, value in zip(table._cells, ["Scope", "Meaning", "write|all", "Everything"], strict=True):
        cell.text = value
    parsed = parse_file(write(tmp_path, "auth.docx", docx_bytes(document)))
    text = only_prose(parsed)
    assert parsed.title == "認証ガイド"
    assert parsed.description == "APIトークンの使い方"
    assert text.split("\n\n")[:4] == ["# 認証", "トークンをヘッダーに入れて送信します。", "## Scopes", "- read:users"]
    assert "| Scope | Meaning |\n| --- | --- |\n| write\\|all | Everything |" in text


def test_docx_title_from_first_heading(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Preface text.")
    document.add_heading("Error codes", level=1)
    document.add_paragraph("E42 means the quota is exhausted.")
    parsed = parse_file(write(tmp_path, "errors.docx", docx_bytes(document)))
    assert parsed.title == "Error codes"
    assert parsed.description == ""
    assert only_prose(parsed) == "Preface text.\n\n# Error codes\n\nE42 means the quota is exhausted."


def test_corrupt_docx_is_refused(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<not-xml")
        archive.writestr("word/document.xml", "<w:document")
    assert "damaged" in bad(write(tmp_path, "broken.docx", out.getvalue()))


def test_truncated_docx_is_refused(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Hello")
    data = docx_bytes(document)
    assert "damaged" in bad(write(tmp_path, "cut.docx", data[: len(data) // 2]))


def test_old_word_file_named_docx_is_refused(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600))
    assert "not a real .docx file" in message and "old Microsoft Office" in message


def test_empty_docx_is_refused(tmp_path: Path) -> None:
    assert "contains no text" in bad(write(tmp_path, "blank.docx", docx_bytes(docx.Document())))


def test_zip_that_is_not_docx_is_refused(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert "ZIP archive" in bad(write(tmp_path, "sheet.docx", out.getvalue()))


# --- Plain text -----------------------------------------------------------------------------------------------


def test_text_title_is_first_short_line(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "faq.txt", "\n\nالأسئلة الشائعة\n\nكيف أعيد تعيين كلمة المرور؟\r\n"))
    assert parsed.title == "الأسئلة الشائعة"
    assert only_prose(parsed) == "الأسئلة الشائعة\n\nكيف أعيد تعيين كلمة المرور؟"


def test_text_long_first_line_gives_stem_title(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "notes.text", "word " * 60))
    assert parsed.title == "notes"


def test_rst_title_skips_overline(tmp_path: Path) -> None:
    assert parse_file(write(tmp_path, "guide.rst", "=====\nGuide\n=====\n\nBody.\n")).title == "Guide"


# --- Bad input of any kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.md", b"", "is empty (0 bytes)"),
        ("blank.txt", b"  \n\t\n ", "only whitespace"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a PNG image"),
        ("blob.txt", b"text then \x00\x01\x02 binary", "NUL byte at offset 10"),
        ("utf16.md", "# Título".encode("utf-16"), "UTF-16"),
        ("zipped.md", b"PK\x03\x04" + b"\x00" * 40, "ZIP archive"),
    ],
)
def test_bad_content_is_refused(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    assert expected in bad(write(tmp_path, name, content))


def test_invalid_utf8_names_offset_and_line(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "latin1.md", "# Title\n\nCafé".encode("latin-1")))
    assert "not valid UTF-8" in message
    assert "byte 0xE9 at offset 12 (line 3)" in message
    assert "Re-save it as UTF-8" in message


def test_file_over_the_limit_names_size_limit_and_setting(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "big.md", "# Big\n" + "x" * 2_500_000), max_bytes=2_000_000)
    assert "2.5 MB" in message and "2.0 MB" in message and "POLYDESK_MAX_FILE_MB" in message


def test_unknown_extension_lists_supported_ones(tmp_path: Path) -> None:
    message = bad(write(tmp_path, "slides.pptx", b"anything"))
    assert ".pptx" in message
    for extension in (".md", ".mdx", ".html", ".pdf", ".docx", ".txt", ".json", ".yaml"):
        assert extension in message


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert "does not exist" in bad(tmp_path / "gone.md")
