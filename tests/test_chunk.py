"""Chunks respect the token budget, keep code fences whole, and carry their heading path."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from core.errors import ConfigError
from core.knowledge.chunk import HARD_CAP_TOKENS, Chunker, split_anchor
from core.knowledge.ingest.parse import parse_file
from core.types import Block, Heading, ParsedDocument

WORDS = ("token expires refresh request header webhook cursor limit páginas トークン 令牌 رمز токен "
         "the a to of and retry signature").split()


def sentence(rng: random.Random, n: int) -> str:
    """A sentence of n random words."""
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def code_fence(lines: int, language: str = "python") -> str:
    """A fenced code block of `lines` lines."""
    body = "\n".join(f"response_{i} = client.get('/v1/shipments', params={{'limit': {i}}})" for i in range(lines))
    return f"```{language}\n{body}\n```"


def random_document(seed: int) -> str:
    """Markdown with nested headings, long paragraphs, lists, and code fences of every size."""
    rng = random.Random(seed)
    parts = ["# Parcelio guide { #guide }"]
    for section in range(4):
        parts.append(f"## Section {section} {{ #section-{section} }}")
        for _ in range(rng.randint(1, 4)):
            parts.append(" ".join(sentence(rng, rng.randint(5, 30)) for _ in range(rng.randint(1, 25))))
        parts.append("\n".join(f"- {sentence(rng, 6)}" for _ in range(rng.randint(1, 8))))
        parts.append(code_fence(rng.choice([3, 30, 120])))
        parts.append(f"### Details {section}")
        parts.append(sentence(rng, 40))
    return "\n\n".join(parts) + "\n"


@pytest.fixture(scope="module")
def chunker(embedder_dir) -> Chunker:
    """A chunker with the embedding checkpoint's tokenizer and a small budget, so every rule is exercised."""
    return Chunker.from_folder(embedder_dir, max_tokens=128, overlap=16)


def fences(text: str) -> list[str]:
    """The fenced code blocks in a text."""
    return re.findall(r"```\w*\n.*?\n```", text, flags=re.S)


def expected_context(chunker: Chunker, path: tuple[str, ...]) -> str:
    """The longest tail of the heading path that fits a quarter of a chunk (the full path whenever it fits)."""
    tails = [" > ".join(path[start:]) for start in range(len(path))]
    return next(tail for tail in tails if chunker.count(tail) <= chunker.max_tokens // 4)


@pytest.mark.parametrize("seed", range(6))
def test_budget_fences_and_headings(chunker, seed):
    markdown = random_document(seed)
    pieces = chunker.split(ParsedDocument("Parcelio guide", "", (Block(markdown),)))
    assert pieces
    for piece in pieces:
        assert piece.token_count == chunker.count(piece.text)
        assert piece.token_count <= (HARD_CAP_TOKENS if piece.kind == "code" else chunker.max_tokens), piece.text
        assert piece.text.startswith(expected_context(chunker, piece.heading_path) + "\n\n")
        assert piece.heading_path[0] == "Parcelio guide"
        assert piece.text.count("```") % 2 == 0, "a code fence was cut"
    kept = [f for piece in pieces for f in fences(piece.text)]
    for fence in fences(markdown):
        if chunker.count(fence) < HARD_CAP_TOKENS - 32:
            assert fence in kept, "a fence under the hard cap appears whole in one chunk"
        else:
            assert fence not in kept and fence.splitlines()[1] in "".join(kept), "an oversize fence is split"


def test_heading_paths_and_anchors(chunker):
    markdown = ("# Título { #auth }\n\nIntro.\n\n## Renovar token\n\nUsa el endpoint.\n\n"
                "### Errores { #errors }\n\n401.\n")
    pieces = chunker.split(ParsedDocument("Título", "", (Block(markdown),)))
    assert [(p.heading_path, p.anchor) for p in pieces] == [
        (("Título",), "auth"),
        (("Título", "Renovar token"), "renovar-token"),
        (("Título", "Renovar token", "Errores"), "errors"),
    ]
    assert pieces[2].text == "Título > Renovar token > Errores\n\n401."


def test_a_long_heading_path_drops_outer_headings_first(embedder_dir):
    chunker = Chunker.from_folder(embedder_dir, max_tokens=128, overlap=16)
    outer = "Parcelio Versand-Handbuch für Integratoren und Partner " * 4
    path = (outer.strip(), "Webhooks", "Signatur prüfen")
    markdown = "".join(f"{'#' * level} {text}\n\n" for level, text in enumerate(path, 1)) + "Vergleiche den HMAC.\n"
    piece = chunker.split(ParsedDocument(path[0], "", (Block(markdown),)))[-1]
    assert chunker.count(" > ".join(path[1:])) <= 32 < chunker.count(" > ".join(path))
    assert piece.heading_path == path
    assert piece.text == "Webhooks > Signatur prüfen\n\nVergleiche den HMAC."


def test_text_before_any_heading_uses_the_title(chunker):
    pieces = chunker.split(ParsedDocument("Changelog", "", (Block("2024-05-01: added webhooks.\n"),)))
    assert pieces[0].heading_path == ("Changelog",) and pieces[0].text.startswith("Changelog\n\n")


def test_code_fence_over_the_hard_cap_is_split(embedder_dir):
    chunker = Chunker.from_folder(embedder_dir, max_tokens=512)
    huge = code_fence(400)
    assert chunker.count(huge) > HARD_CAP_TOKENS
    pieces = chunker.split(ParsedDocument("Big", "", (Block(f"# Big\n\n{huge}\n"),)))
    assert len(pieces) > 1 and all(p.token_count <= HARD_CAP_TOKENS for p in pieces)


def test_api_operation_is_one_chunk(chunker):
    text = "## GET /v1/shipments\n\n" + "List shipments with a cursor. " * 30
    block = Block(text, "api-operation", ("Parcelio API", "shipments"), (("operation_id", "listShipments"),))
    pieces = chunker.split(ParsedDocument("Parcelio API", "", (block,)))
    assert len(pieces) == 1 and pieces[0].token_count > chunker.max_tokens
    assert pieces[0].kind == "api-operation" and pieces[0].extra == (("operation_id", "listShipments"),)
    assert pieces[0].text.startswith("Parcelio API > shipments\n\n## GET /v1/shipments")


def test_split_anchor():
    assert split_anchor("Tokens de acceso { #access-tokens }") == ("Tokens de acceso", "access-tokens")
    assert split_anchor("Rate limits & 429") == ("Rate limits & 429", "rate-limits-429")
    assert split_anchor("認証") == ("認証", "認証")


@pytest.mark.parametrize(("tokens", "overlap"), [(8, 0), (4096, 0), (128, 100)])
def test_invalid_budget(embedder_dir, tokens, overlap):
    with pytest.raises(ConfigError, match="POLYDESK_CHUNK"):
        Chunker.from_folder(embedder_dir, max_tokens=tokens, overlap=overlap)


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
CONVENTIONS = """---
title: Webhooks
---
<!--
## Hidden heading in a comment
-->

Intro {{< glossary_tooltip text="Webhook" term_id="webhook" >}} with `{{< kept >}}` code.

## Signatur prüfen <!-- verify --> { #verify }

{{% note %}}
### Inside a note
Body of the note.
{{% /note %}}

1. Step one
2. ## Step two heading
   Text of step two.

> [!TIP]
> ## Quoted heading
> Quoted text.

Setext heading
--------------

```python
# not a heading
print("ok")
```
"""


def sample_documents() -> list[ParsedDocument]:
    """Every page of the multilingual sample collection, parsed."""
    return [parse_file(path) for path in sorted(SAMPLE.rglob("*.md")) if path.name != "README.md"]


def test_parser_outline_matches_parsing_the_cleaned_text(chunker, tmp_path):
    page = tmp_path / "webhooks.md"
    page.write_text(CONVENTIONS, encoding="utf-8")
    documents = [parse_file(page), *sample_documents()]
    for document in documents:
        for block in document.blocks:
            assert block.outline is not None
            assert block.outline == chunker.outline(block.text), document.title
    headings = [mark.text for mark in documents[0].blocks[0].outline if isinstance(mark, Heading)]
    assert headings == ["Webhooks", "Signatur prüfen { #verify }", "Inside a note", "Step two heading",
                        "Quoted heading", "Setext heading"]


def test_a_heading_in_a_list_item_starts_a_section(chunker):
    markdown = "# Setup\n\n1. Install the CLI.\n2. ## Configure\n   Set the token.\n\nThen run it.\n"
    pieces = chunker.split(ParsedDocument("Setup", "", (Block(markdown),)))
    assert [(p.heading_path, p.text) for p in pieces] == [
        (("Setup",), "Setup\n\n1. Install the CLI."),
        (("Setup", "Configure"), "Setup > Configure\n\nSet the token.\n\nThen run it."),
    ]


MDX_TABS = """---
title: Create a parcel
---
import { Tabs, TabItem } from "@astrojs/starlight/components";

<Tabs>
  <TabItem label="cURL">
  ## With cURL

  Send `POST /v1/parcels` with the recipient's address.
  </TabItem>
  <TabItem label="Python">
  ## With the Python client

  Call `client.parcels.create()` and keep the returned id.
  </TabItem>
</Tabs>
"""


def test_headings_inside_mdx_components_start_sections(chunker, tmp_path):
    page = tmp_path / "parcels.mdx"
    page.write_text(MDX_TABS, encoding="utf-8")
    pieces = chunker.split(parse_file(page))
    assert [p.heading_path for p in pieces] == [  # the first holds the tab's label, a component's text prop
        ("Create a parcel",), ("Create a parcel", "With cURL"), ("Create a parcel", "With the Python client")]
    assert "client.parcels.create()" in pieces[2].text and "POST /v1/parcels" not in pieces[2].text


@pytest.mark.parametrize(("max_tokens", "overlap"), [(32, 0), (64, 8), (128, 16)])
def test_sample_chunks_fit_the_tokenizer_and_keep_all_text(embedder_dir, max_tokens, overlap):
    chunker = Chunker.from_folder(embedder_dir, max_tokens=max_tokens, overlap=overlap)
    tokenizer = Tokenizer.from_file(str(embedder_dir / "tokenizer.json"))
    for document in sample_documents():
        pieces = chunker.split(document)
        for piece in pieces:
            count = len(tokenizer.encode(piece.text, add_special_tokens=False).ids)
            assert count == piece.token_count
            assert count <= (HARD_CAP_TOKENS if piece.kind == "code" else max_tokens), piece.text
        for section in chunker.sections(document.blocks[0], document.title):
            texts = [p.text.split("\n\n", 1)[-1] for p in pieces if p.heading_path == section.heading_path]
            covered = [False] * len(section.body)
            position = 0
            for text in texts:  # each part is the section's own text, in order, and adds to it (overlap repeats)
                found = section.body.find(text, max(position - len(text), 0))
                while 0 <= found and found + len(text) <= position:
                    found = section.body.find(text, found + 1)
                assert found >= 0, text
                covered[found : found + len(text)] = [True] * len(text)
                position = found + len(text)
            assert all(done or char.isspace() for done, char in zip(covered, section.body, strict=True))
