"""Site conventions (Hugo, Docusaurus, Starlight, MkDocs, Mintlify/Nextra, GFM, Sphinx) become plain text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fpdf import FPDF

from core.errors import BadFile
from core.knowledge.chunk import Chunker
from core.knowledge.ingest.parse import parse_file

MARKUP = re.compile(  # comments, shortcodes, ESM lines, JSX tags and fragments, admonition markers
    r"<!--|-->|\{\{[<%]|[>%]\}\}|^\s*import\s.*\bfrom\s|^\s*export\s|</?[A-Z][\w.]*[\s/>]|</?>|:::|^\s*!!!|\[!\w+\]",
    re.M,
)


def parsed_text(tmp_path: Path, relative: str, source: str) -> tuple[str, str]:
    """The title and the single prose block of `source` saved at tmp_path/relative and parsed."""
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    document = parse_file(path)
    assert len(document.blocks) == 1
    return document.title, document.blocks[0].text


# --- Hugo -----------------------------------------------------------------------------------------------------

HUGO_DE = """---
title: Knoten verwalten
description: Wie Sie Knoten hinzufügen
---
<!--
Managing nodes
This page explains how to add nodes.
-->

Ein {{< glossary_tooltip text="Knoten" term_id="node" >}} führt Ihre Aufgaben aus.

{{% note %}}
Knoten brauchen **mindestens** 2 GB Speicher.
{{% /note %}}

{{< alert title="Achtung" color="warning" >}}Nie den letzten Knoten löschen.{{< /alert >}}

## Einrichten <!-- setup -->

{{< tabs >}}
{{< tab "Linux" >}}
Starten Sie den Dienst.
{{< /tab >}}
{{< /tabs >}}

Siehe [Setup]({{< ref "setup.md" >}}). {{< youtube id="abc123" >}}
{{</* feature-state state="beta" */>}}
"""

HUGO_DE_TEXT = """# Knoten verwalten

Wie Sie Knoten hinzufügen

Ein Knoten führt Ihre Aufgaben aus.

Note: Knoten brauchen **mindestens** 2 GB Speicher.

Warning: Achtung

Nie den letzten Knoten löschen.

## Einrichten

Linux

Starten Sie den Dienst.

Siehe [Setup](setup.md)."""

HUGO_ZH = """---
title: 管理节点
---
<!-- Managing nodes: the English original of this page -->
# 管理节点

{{< glossary_tooltip text="节点" term_id="node" >}}运行你的任务。

{{% warning %}}
不要删除最后一个节点。
{{% /warning %}}

{{< feature-state for_k8s_version="v1.30" state="stable" >}}
"""

HUGO_ZH_TEXT = """# 管理节点

节点运行你的任务。

Warning: 不要删除最后一个节点。"""


@pytest.mark.parametrize(
    ("relative", "source", "title", "expected"),
    [
        ("de/docs/nodes.md", HUGO_DE, "Knoten verwalten", HUGO_DE_TEXT),
        ("zh-cn/docs/nodes.md", HUGO_ZH, "管理节点", HUGO_ZH_TEXT),
    ],
    ids=["de", "zh-cn"],
)
def test_hugo_comments_and_shortcodes(tmp_path: Path, relative: str, source: str, title: str, expected: str) -> None:
    assert parsed_text(tmp_path, relative, source) == (title, expected)


HUGO_KO_TOML = """+++
title = "노드 관리"
description = "노드를 추가하는 방법"
+++

## 추가

{{< glossary_tooltip text="노드" term_id="node" >}}를 추가합니다.
"""


def test_hugo_toml_front_matter_feeds_title_and_heading_path(tmp_path: Path) -> None:
    path = tmp_path / "ko" / "nodes.md"
    path.parent.mkdir()
    path.write_text(HUGO_KO_TOML, encoding="utf-8")
    document = parse_file(path)
    assert (document.title, document.description) == ("노드 관리", "노드를 추가하는 방법")
    assert document.blocks[0].text == "# 노드 관리\n\n노드를 추가하는 방법\n\n## 추가\n\n노드를 추가합니다."


def test_bad_toml_front_matter_says_so(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text('+++\ntitle = "unclosed\n+++\n\nBody.\n', encoding="utf-8")
    with pytest.raises(BadFile, match="not valid TOML"):
        parse_file(path)


# --- Docusaurus -----------------------------------------------------------------------------------------------

DOCUSAURUS_FR = """---
title: Authentification
description: Les jetons d'accès
---

:::note Jetons

Les jetons expirent après une heure.

:::

::::info
Texte extérieur.
:::danger
Ne partagez jamais la clé.
:::
::::

:::tip[Astuce]
Utilisez un coffre-fort.
:::
"""

DOCUSAURUS_FR_TEXT = """# Authentification

Les jetons d'accès

Note: Jetons

Les jetons expirent après une heure.

Info: Texte extérieur.

Danger: Ne partagez jamais la clé.

Tip: Astuce

Utilisez un coffre-fort."""

DOCUSAURUS_EN = """import Tabs from '@theme/Tabs';
import TabItem from '@theme/TabItem';

# Authentication

:::warning
Tokens are shown **once**.
:::

<Tabs>
  <TabItem value="curl" label="cURL">
    Send the header with every call.
  </TabItem>
</Tabs>

import this is prose, not a statement.

:::details
Hidden details stay readable.
:::
"""

DOCUSAURUS_EN_TEXT = """# Authentication

Warning: Tokens are shown **once**.

cURL

Send the header with every call.

import this is prose, not a statement.

Hidden details stay readable."""


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [("fr/auth.md", DOCUSAURUS_FR, DOCUSAURUS_FR_TEXT), ("en/auth.md", DOCUSAURUS_EN, DOCUSAURUS_EN_TEXT)],
    ids=["fr", "en"],
)
def test_docusaurus_admonitions(tmp_path: Path, relative: str, source: str, expected: str) -> None:
    assert parsed_text(tmp_path, relative, source)[1] == expected


# --- Starlight (Astro) MDX ------------------------------------------------------------------------------------

STARLIGHT_ZH = """---
title: 快速开始
description: 五分钟接入
---
import { Aside, LinkCard, Tabs, TabItem } from '@astrojs/starlight/components';
import Diagram from '../../assets/diagram.svg';

export const version = '2.1';

{/* 译者：保持简短 */}

<LinkCard title="安装 SDK" description="用包管理器安装" href="/zh-cn/sdk/" />

:::tip[提示]
先创建 API 密钥。
:::

:::caution
密钥只显示一次。
:::

<Tabs>
  <TabItem label="npm">
    运行安装命令。
  </TabItem>
</Tabs>

<Diagram />

<Aside type="danger">不要提交密钥。</Aside>

按 <kbd>Enter</kbd> 或 <Kbd>Ctrl</Kbd> 继续。
"""

STARLIGHT_ZH_TEXT = """# 快速开始

五分钟接入

安装 SDK: 用包管理器安装

Tip: 提示

先创建 API 密钥。

Caution: 密钥只显示一次。

npm

运行安装命令。

Danger: 不要提交密钥。

按 <kbd>Enter</kbd> 或 Ctrl 继续。"""

STARLIGHT_JA = """---
title: はじめに
---
import { Card } from '@astrojs/starlight/components';

## インストール

<Card title="準備" icon="rocket">
  キーを作成します。
</Card>

:::note
キーは一度だけ表示されます。
:::
"""

STARLIGHT_JA_TEXT = """# はじめに

## インストール

準備

キーを作成します。

Note: キーは一度だけ表示されます。"""


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [("zh-cn/start.mdx", STARLIGHT_ZH, STARLIGHT_ZH_TEXT), ("ja/start.mdx", STARLIGHT_JA, STARLIGHT_JA_TEXT)],
    ids=["zh-cn", "ja"],
)
def test_starlight_mdx(tmp_path: Path, relative: str, source: str, expected: str) -> None:
    assert parsed_text(tmp_path, relative, source)[1] == expected


# --- MkDocs Material ------------------------------------------------------------------------------------------

MKDOCS_ES = """# Webhooks

!!! note "Reintentos"
    Reintentamos cinco veces.

    ```bash
    curl -X POST https://api.example.test/hooks
    ```

??? tip
    Usa una cola.

=== "Python"

    Instale el SDK.

=== "Go"

    Use `go get`.

--8<-- "includes/abreviaturas.md"

Texto final.
"""

MKDOCS_ES_TEXT = """# Webhooks

Note: Reintentos

Reintentamos cinco veces.

```bash
curl -X POST https://api.example.test/hooks
```

Tip: Usa una cola.

Python

Instale el SDK.

Go

Use `go get`.

Texto final."""

MKDOCS_EN = """Intro line.

!!! warning
    Keys expire.

    !!! example "Nested"
        A nested box.
"""

MKDOCS_EN_TEXT = """Intro line.

Warning: Keys expire.

Example: Nested

A nested box."""


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [("es/hooks.md", MKDOCS_ES, MKDOCS_ES_TEXT), ("en/hooks.md", MKDOCS_EN, MKDOCS_EN_TEXT)],
    ids=["es", "en"],
)
def test_mkdocs_material_admonitions_and_tabs(tmp_path: Path, relative: str, source: str, expected: str) -> None:
    assert parsed_text(tmp_path, relative, source)[1] == expected


# --- Mintlify and Nextra MDX ----------------------------------------------------------------------------------

MINTLIFY_ES = """---
title: Límites de uso
---

<Note>
  Los límites se aplican por clave.
</Note>

<Callout type="warning" emoji="⚠️">No compartas tu clave.</Callout>

<CardGroup cols={2}>
  <Card title="Cuotas" icon="gauge" href="/es/cuotas">
    Cuántas peticiones por minuto.
  </Card>
</CardGroup>

<Accordion title="¿Qué pasa al superar el límite?">
  Recibes un `429`.
</Accordion>

<ParamField path="id" type="string" required>
  El identificador del cliente.
</ParamField>
"""

MINTLIFY_ES_TEXT = """# Límites de uso

Note: Los límites se aplican por clave.

Warning: No compartas tu clave.

Cuotas

Cuántas peticiones por minuto.

¿Qué pasa al superar el límite?

Recibes un `429`.

El identificador del cliente."""

NEXTRA_KO = """import { Callout, Steps } from 'nextra/components'

# 요청 한도

<Callout type="info">키마다 한도가 적용됩니다.</Callout>

<Steps>
### 키 만들기
대시보드에서 키를 만듭니다.
</Steps>

<Tip>재시도 간격을 늘리세요.</Tip>
"""

NEXTRA_KO_TEXT = """# 요청 한도

Info: 키마다 한도가 적용됩니다.

### 키 만들기
대시보드에서 키를 만듭니다.

Tip: 재시도 간격을 늘리세요."""


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [("es/limits.mdx", MINTLIFY_ES, MINTLIFY_ES_TEXT), ("ko/limits.mdx", NEXTRA_KO, NEXTRA_KO_TEXT)],
    ids=["mintlify-es", "nextra-ko"],
)
def test_mintlify_and_nextra_components(tmp_path: Path, relative: str, source: str, expected: str) -> None:
    assert parsed_text(tmp_path, relative, source)[1] == expected


# --- GitHub-flavoured Markdown --------------------------------------------------------------------------------

GFM_EN = """# Release notes

<!-- TODO: add the March entry -->

> [!NOTE]
> Version 3 removes the legacy endpoint.

> [!IMPORTANT]
> - Rotate keys.
> - Update the SDK.

> A plain quote stays.

Done. <!-- inline comment --> Really.
"""

GFM_EN_TEXT = """# Release notes

Note: Version 3 removes the legacy endpoint.

Important:

- Rotate keys.
- Update the SDK.

> A plain quote stays.

Done. Really."""

GFM_AR = """# ملاحظات الإصدار

> [!WARNING]
> تنتهي صلاحية المفاتيح القديمة.
"""

GFM_AR_TEXT = """# ملاحظات الإصدار

Warning: تنتهي صلاحية المفاتيح القديمة."""


@pytest.mark.parametrize(
    ("relative", "source", "expected"), [("en/notes.md", GFM_EN, GFM_EN_TEXT), ("ar/notes.md", GFM_AR, GFM_AR_TEXT)],
    ids=["en", "ar"],
)
def test_gfm_alerts_and_comments(tmp_path: Path, relative: str, source: str, expected: str) -> None:
    assert parsed_text(tmp_path, relative, source)[1] == expected


# --- Sphinx / Read the Docs HTML ------------------------------------------------------------------------------

SPHINX_JA = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>認証 &#8212; Example API 2.0 ドキュメント</title></head>
<body>
<div class="related" role="navigation"><ul><li><a href="index.html">RELATED-NAV</a></li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
<!-- translated from the English original: Authentication -->
<section id="auth"><h1>認証<a class="headerlink" href="#auth" title="Link to this heading">¶</a></h1>
<p>すべてのリクエストにトークンが必要です。</p>
<div class="admonition note"><p class="admonition-title">注釈</p><p>トークンは一時間で失効します。</p></div>
<div class="toctree-wrapper compound"><ul><li><a href="x.html">TOCTREE-LINK</a></li></ul></div>
<section id="scopes"><h2>スコープ<a class="headerlink" href="#scopes">¶</a></h2>
<p>read と write があります。</p></section>
</section></div></div></div>
<div class="sphinxsidebar" role="navigation"><h3>SIDEBAR-TITLE</h3></div></div>
<div class="footer">FOOTER-TEXT</div>
</body></html>
"""

SPHINX_JA_TEXT = """# 認証

すべてのリクエストにトークンが必要です。

注釈: トークンは一時間で失効します。

## スコープ

read と write があります。"""

SPHINX_EN = """<html><head><title>Errors</title></head><body>
<div class="wy-grid-for-nav"><nav class="wy-nav-side">NAV-SIDE</nav>
<section class="wy-nav-content-wrap"><div role="main" class="document">
<h1>Errors<a class="headerlink" href="#errors">¶</a></h1>
<div class="admonition warning"><p class="admonition-title">Warning</p><p>Never retry a 400.</p></div>
<!-- hidden editor note -->
<p>A 429 means slow down.</p>
<footer><div class="rst-footer-buttons">NEXT-PAGE</div></footer>
</div></section></div></body></html>
"""

SPHINX_EN_TEXT = """# Errors

Warning: Never retry a 400.

A 429 means slow down."""


BUILT_SITES_PT = """<html lang="pt-BR"><head><title>Webhooks</title></head><body><main>
<h1>Webhooks<a class="hash-link" href="#webhooks">#</a></h1>
<div class="theme-admonition theme-admonition-tip alert"><div class="admonitionHeading_x1">
<span class="admonitionIcon_x2"><svg viewBox="0 0 12 16"><path d="M6 0"></path></svg></span>dica</div>
<div class="admonitionContent_x3"><p>Verifique a assinatura.</p></div></div>
<aside aria-label="Cuidado" class="starlight-aside starlight-aside--caution">
<p class="starlight-aside__title" aria-hidden="true"><svg viewBox="0 0 24 24"></svg>Cuidado</p>
<div class="starlight-aside__content"><p>Responda em cinco segundos.</p></div></aside>
<aside class="sidebar">SIDEBAR-TEXT</aside>
</main></body></html>
"""

BUILT_SITES_PT_TEXT = """# Webhooks

Dica: Verifique a assinatura.

Cuidado: Responda em cinco segundos."""


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("ja/auth.html", SPHINX_JA, SPHINX_JA_TEXT),
        ("en/errors.html", SPHINX_EN, SPHINX_EN_TEXT),
        ("pt-br/webhooks.html", BUILT_SITES_PT, BUILT_SITES_PT_TEXT),
    ],
    ids=["sphinx-ja", "sphinx-en", "docusaurus-starlight-pt"],
)
def test_sphinx_html_admonitions_without_chrome(tmp_path: Path, relative: str, source: str, expected: str) -> None:
    assert parsed_text(tmp_path, relative, source)[1] == expected


# --- Across conventions ---------------------------------------------------------------------------------------

ALL = {
    "de/nodes.md": HUGO_DE, "zh-cn/nodes.md": HUGO_ZH, "fr/auth.md": DOCUSAURUS_FR, "en/auth.md": DOCUSAURUS_EN,
    "zh-cn/start.mdx": STARLIGHT_ZH, "ja/start.mdx": STARLIGHT_JA, "es/hooks.md": MKDOCS_ES, "en/hooks.md": MKDOCS_EN,
    "es/limits.mdx": MINTLIFY_ES, "ko/limits.mdx": NEXTRA_KO, "en/notes.md": GFM_EN, "ar/notes.md": GFM_AR,
    "ja/auth.html": SPHINX_JA, "en/errors.html": SPHINX_EN, "pt-br/webhooks.html": BUILT_SITES_PT,
}


def test_no_chunk_of_any_convention_carries_markup(tmp_path: Path, embedder_dir: Path) -> None:
    chunker = Chunker.from_folder(embedder_dir, max_tokens=64, overlap=8)
    for relative, source in ALL.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        pieces = chunker.split(parse_file(path))
        assert pieces, relative
        for piece in pieces:
            assert not MARKUP.search(piece.text), (relative, piece.text)


def test_code_keeps_comments_shortcodes_and_imports_verbatim(tmp_path: Path) -> None:
    source = """---
title: Plantillas
---
<!-- hidden -->
Usa `<!-- nota -->` en HTML.

```html
<!-- this comment is code -->
{{< figure src="a.png" >}}
:::tip
```

    <!-- indented code -->
"""
    title, text = parsed_text(tmp_path, "es/templates.md", source)
    assert text == (
        "# Plantillas\n\nUsa `<!-- nota -->` en HTML.\n\n"
        "```html\n<!-- this comment is code -->\n{{< figure src=\"a.png\" >}}\n:::tip\n```\n\n"
        "    <!-- indented code -->"
    )
    mdx = "import X from 'x';\n\n# Código\n\n```jsx\nimport { Card } from 'ui';\n<Card title=\"t\" />\n```\n"
    assert parsed_text(tmp_path, "es/code.mdx", mdx)[1] == (
        "# Código\n\n```jsx\nimport { Card } from 'ui';\n<Card title=\"t\" />\n```"
    )


def test_front_matter_title_heads_the_sections(tmp_path: Path, embedder_dir: Path) -> None:
    path = tmp_path / "ja" / "keys.md"
    path.parent.mkdir()
    path.write_text("---\ntitle: キー管理\n---\n\n## 作成\n\nキーを作成します。\n", encoding="utf-8")
    pieces = Chunker.from_folder(embedder_dir, max_tokens=128).split(parse_file(path))
    assert [piece.heading_path for piece in pieces] == [("キー管理", "作成")]


def test_page_with_only_comments_and_shortcodes_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "en" / "_index.md"
    path.parent.mkdir()
    path.write_text("---\ntitle: Guides\n---\n<!-- a section page -->\n{{< toc >}}\n", encoding="utf-8")
    document = parse_file(path)
    assert document.blocks == () and document.title == "Guides"


def test_pdf_chunks_carry_their_page_number(tmp_path: Path, embedder_dir: Path) -> None:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in ("Quotas reset at midnight.", "", "Refunds take five days."):
        pdf.add_page()
        if text:
            pdf.multi_cell(w=0, text=text)
    path = tmp_path / "guide.pdf"
    path.write_bytes(bytes(pdf.output()))
    pieces = Chunker.from_folder(embedder_dir, max_tokens=128).split(parse_file(path))
    pages = [(dict(piece.extra)["page"], piece.text.rsplit("\n\n", 1)[-1]) for piece in pieces]
    assert pages == [("1", "Quotas reset at midnight."), ("3", "Refunds take five days.")]


@pytest.mark.timeout(120)  # quadratic patterns take hours on these; linear ones well under a second
@pytest.mark.parametrize(
    "body",
    [
        "a" + " " * 200_000 + "b",
        "`" * 200_000 + "x",
        "{{< x " * 30_000,
        "{{</* x " * 30_000,
        "{{% note %}}" * 15_000,
        "<!-- " * 40_000,
        ":::note" + " " * 200_000 + "x",
        ":::note\n" * 25_000,
        "<Card>\n" * 40_000,
    ],
    ids=["spaces", "backticks", "shortcodes", "shortcode-comments", "boxes", "comments", "long-title", "colons", "jsx"],
)
def test_hostile_markup_parses_in_linear_time(tmp_path: Path, body: str) -> None:
    for name in ("page.md", "page.mdx"):
        (tmp_path / name).write_text(f"---\ntitle: T\n---\n# T\n\n{body}\n", encoding="utf-8")
        assert parse_file(tmp_path / name).title == "T"
