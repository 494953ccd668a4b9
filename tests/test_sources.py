"""Sources: unique names for every way of calling ingest, language folders, skipped non-documents, page links."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from core.errors import BadInput
from core.knowledge.ingest.sources import folder_language, plan_sources
from core.knowledge.links import SiteLinks, check_links, chunk_url, page_path, page_url
from core.ops.cli import main
from core.pipeline import Pipeline
from tests.conftest import tiny_settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
OPENAPI = ("openapi: 3.0.3\ninfo:\n  title: Lumen API\n  version: '1'\npaths:\n  /keys:\n    get:\n"
           "      operationId: listKeys\n      summary: List the project keys of a Lumen project\n"
           "      responses:\n        '200':\n          description: The keys\n")

# A fictional "Lumen" API documented in a Hugo-style site; each language folder has the same relative paths.
PAGES = {
    "en": {
        "title": "Lumen docs",
        "setup": "# Setting up\n\nCreate a project key in the Lumen console before you send the first request.\n\n"
                 "## Rotating keys\n\nRotate a project key every ninety days; the old key keeps working for a day.\n",
        "limits": "---\ntitle: Limits\nurl: /limits/\n---\n\nEach project key may send three hundred requests per "
                  "minute, and a busy answer tells you how long to wait before trying again.\n",
        "section": "Guides explain how to connect a shop to Lumen and how to keep the connection healthy.",
    },
    "zh-cn": {
        "title": "Lumen 文档",
        "setup": "# 设置\n\n在发送第一个请求之前，请先在 Lumen 控制台中创建一个项目密钥。\n\n"
                 "## 轮换密钥\n\n每九十天轮换一次项目密钥；旧密钥在一天内仍然有效。\n",
        "limits": "---\ntitle: 限制\nurl: /zh-cn/limits/\n---\n\n每个项目密钥每分钟最多可以发送三百个请求，"
                  "繁忙的回复会告诉你在重试之前需要等待多长时间。\n",
        "section": "指南介绍如何把商店连接到 Lumen，以及如何保持连接正常。",
    },
    "ja": {
        "title": "Lumen ドキュメント",
        "setup": "# セットアップ\n\n最初のリクエストを送る前に、Lumen コンソールで"
                 "プロジェクトキーを作成してください。\n\n## キーのローテーション\n\n"
                 "プロジェクトキーは九十日ごとにローテーションしてください。古いキーは一日だけ使えます。\n",
        "limits": "---\ntitle: 制限\nurl: /ja/limits/\n---\n\n"
                  "各プロジェクトキーは一分間に三百件までリクエストを送信できます。"
                  "混雑時の応答には、再試行までの待ち時間が示されます。\n",
        "section": "ガイドでは、ショップを Lumen に接続し、その接続を健全に保つ方法を説明します。",
    },
}


def build_site(root: Path) -> Path:
    """site/<lang>/ with _index.md (front matter only), docs/_index.md, docs/setup.md, limits.md and non-documents."""
    for lang, page in PAGES.items():
        folder = root / "site" / lang
        (folder / "docs" / "images").mkdir(parents=True)
        (folder / "css").mkdir()
        (folder / "_index.md").write_text(f"---\ntitle: {page['title']}\n---\n", encoding="utf-8")
        (folder / "docs" / "_index.md").write_text(f"---\ntitle: Guides\n---\n\n{page['section']}\n", encoding="utf-8")
        (folder / "docs" / "setup.md").write_text(page["setup"], encoding="utf-8")
        (folder / "docs" / "limits.md").write_text(page["limits"], encoding="utf-8")
        (folder / "docs" / "images" / "console.png").write_bytes(PNG)
        (folder / "css" / "site.css").write_text("body { color: #222; }\n")
        (folder / "mkdocs.yml").write_text("site_name: Lumen\nnav:\n  - docs/setup.md\n")
        (folder / "manifest.jsonl").write_text('{"path": "docs/setup.md"}\n')
        (folder / "package.json").write_text('{"name": "lumen-docs", "private": true}\n')
    (root / "site" / "en" / "api.yaml").write_text(OPENAPI)
    return root / "site"


PAGE_SOURCES = {f"{lang}/docs/{name}.md" for lang in PAGES for name in ("_index", "setup", "limits")}


# --- The sources rule ------------------------------------------------------------------------------------------


def test_several_folders_keep_their_folder_names(tmp_path):
    site = build_site(tmp_path)
    plan = plan_sources([site / "en", site / "zh-cn", site / "ja"])
    sources = {f.source for f in plan.files}
    assert PAGE_SOURCES | {"en/api.yaml"} <= sources and len(sources) == len(plan.files)
    assert {f.source: f.language for f in plan.files if f.source.endswith("setup.md")} == {
        "en/docs/setup.md": "en", "zh-cn/docs/setup.md": "zh", "ja/docs/setup.md": "ja"}
    assert [f.source for f in plan_sources([site]).files] == [f.source for f in plan.files]


def test_one_folder_keeps_the_paths_inside_it_and_its_language(tmp_path):
    site = build_site(tmp_path)
    plan = plan_sources([site / "zh-cn"])
    assert {f.source for f in plan.files} == {"_index.md", "docs/_index.md", "docs/setup.md", "docs/limits.md"}
    assert {f.language for f in plan.files} == {"zh"}


def test_a_folder_and_files_share_one_base(tmp_path):
    site = build_site(tmp_path)
    extra = tmp_path / "notes" / "setup.md"
    extra.parent.mkdir()
    extra.write_text("# Notes\n\nSupport notes about Lumen keys.\n")
    sources = {f.source for f in plan_sources([site / "en", extra]).files}
    assert {"site/en/docs/setup.md", "notes/setup.md"} <= sources
    assert {f.source for f in plan_sources([site / "en", site / "en" / "docs" / "setup.md"]).files} == {
        f.source for f in plan_sources([site / "en"]).files}


def test_two_files_that_would_share_a_source_are_refused_naming_both(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "Setup.md").write_text("# Setup\n")
    (tmp_path / "docs" / "setup.md").write_text("# setup\n")
    if len(list((tmp_path / "docs").iterdir())) < 2:
        pytest.skip("the file system ignores letter case")
    with pytest.raises(BadInput) as caught:
        plan_sources([tmp_path / "docs"])
    assert "Setup.md" in str(caught.value) and "setup.md" in str(caught.value) and "Nothing was written" in str(
        caught.value)


@pytest.mark.parametrize(("source", "language"), [
    ("en/docs/a.md", "en"), ("zh-cn/a.md", "zh"), ("pt_BR/guide/a.md", "pt"), ("zh-Hans/a.md", "zh"),
    ("i18n/ja/docs/a.md", "ja"), ("docs/api/a.md", None), ("en.md", None), ("xx-yy/a.md", None),
])
def test_language_folders(source, language):
    assert folder_language(source) == language


def test_non_documents_in_a_folder_are_skipped_but_named_files_are_not(tmp_path):
    site = build_site(tmp_path)
    plan = plan_sources([site / "en"])
    skipped = {s.source: s.reason for s in plan.skipped}
    assert set(skipped) == {"docs/images/console.png", "css/site.css", "mkdocs.yml", "manifest.jsonl",
                            "package.json"}
    assert "not an OpenAPI specification" in skipped["mkdocs.yml"] and ".png" in skipped["docs/images/console.png"]
    assert "api.yaml" in {f.source for f in plan.files}
    assert [f.source for f in plan_sources([site / "en" / "mkdocs.yml"]).files] == ["mkdocs.yml"]


# --- Links -----------------------------------------------------------------------------------------------------

SITE = SiteLinks("https://docs.example.com/")


@pytest.mark.parametrize(("source", "links", "path"), [
    ("en/docs/setup.md", SITE, "en/docs/setup/"),
    ("en/docs/_index.md", SITE, "en/docs/"),
    ("en/docs/index.mdx", SITE, "en/docs/"),
    ("docs/README.md", SITE, "docs/"),
    ("_index.md", SITE, ""),
    ("en/docs/setup.md", SiteLinks(SITE.base_url, "en"), "docs/setup/"),
    ("zh-cn/docs/setup.md", SiteLinks(SITE.base_url, "en"), "zh-cn/docs/setup/"),
    ("guide/setup.rst", SiteLinks(SITE.base_url, extension=".html"), "guide/setup.html"),
    ("guide/index.html", SiteLinks(SITE.base_url, extension=".html"), "guide/"),
])
def test_source_paths_map_like_static_site_generators(source, links, path):
    assert page_path(source, links) == path


@pytest.mark.parametrize(("source", "hint", "url"), [
    ("en/docs/setup.md", "", "https://docs.example.com/en/docs/setup/"),
    ("en/docs/setup.md", "/limits/", "https://docs.example.com/limits/"),
    ("en/docs/setup.md", "docs/start-here", "https://docs.example.com/docs/start-here"),
    ("en/docs/setup.md", "getting-started", "https://docs.example.com/en/docs/getting-started/"),
    ("en/docs/_index.md", "guides", "https://docs.example.com/en/guides/"),
    ("guide.html", "https://lumen.example.org/guide/", "https://lumen.example.org/guide/"),
    ("ja/docs/設定.md", "", "https://docs.example.com/ja/docs/%E8%A8%AD%E5%AE%9A/"),
    ("api/openapi.yaml", "", ""),
])
def test_page_urls_prefer_the_page_s_own_address(source, hint, url):
    assert page_url(source, SITE, hint) == url


def test_no_base_url_means_no_links():
    assert page_url("en/docs/setup.md", SiteLinks()) == "" and chunk_url("", "rotating-keys") == ""


def test_sections_and_pdf_pages():
    page = "https://docs.example.com/en/docs/setup/"
    assert chunk_url(page, "rotating-keys") == page + "#rotating-keys"
    assert chunk_url(page + "#top", "") == page
    assert chunk_url("https://docs.example.com/manual.pdf", "intro", "7") == "https://docs.example.com/manual.pdf#page=7"


@pytest.mark.parametrize(("links", "message"), [
    (SiteLinks("docs.example.com"), r"not an http\(s\) address"),
    (SiteLinks("ftp://docs.example.com/"), r"not an http\(s\) address"),
    (SiteLinks(SITE.base_url, extension="html"), "must start with a dot"),
])
def test_bad_link_settings_are_refused(links, message):
    with pytest.raises(BadInput, match=message):
        check_links(links)


def test_base_url_gains_its_trailing_slash():
    assert check_links(SiteLinks("https://lumen.example.org/docs", " en ")) == SiteLinks(
        "https://lumen.example.org/docs/", "en")


# --- The real CLI on the tiny models ------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, tmp_path, reranker_dir, embedder_dir):
    """POLYDESK_* variables for the tiny models and a store of the test's own."""
    for name, value in {"EMBEDDING_MODEL": embedder_dir, "RERANKER_MODEL": reranker_dir,
                        "CHROMA_PATH": tmp_path / "chroma", "DEVICE": "cpu"}.items():
        monkeypatch.setenv(f"POLYDESK_{name}", str(value))
    return tmp_path / "chroma"


def ingest_json(capsys, *args: str) -> tuple[int, dict]:
    """Run `polydesk ingest ... --json` in this process; its exit code and report."""
    code = main(["ingest", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_ingests_every_language_folder_with_links(cli_env, capsys, tmp_path, reranker_dir, embedder_dir):
    site = build_site(tmp_path)
    folders = [str(site / lang) for lang in PAGES]
    code, report = ingest_json(capsys, *folders, "--collection", "lumen", "--base-url", "https://docs.example.com",
                               "--default-language-folder", "en")
    assert code == 0, report
    status = {f["source"]: f["status"] for f in report["files"]}
    assert {s for s, st in status.items() if st == "ok"} == PAGE_SOURCES | {"en/api.yaml"}
    assert {s for s, st in status.items() if st == "empty"} == {f"{lang}/_index.md" for lang in PAGES}
    assert {s for s, st in status.items() if st == "skipped"} == {
        f"{lang}/{name}" for lang in PAGES
        for name in ("docs/images/console.png", "css/site.css", "mkdocs.yml", "manifest.jsonl", "package.json")}

    store = Pipeline(tiny_settings(reranker_dir, embedder_dir, cli_env)).store
    chunks = store.all_chunks("lumen")
    assert {c.source for c in chunks} == PAGE_SOURCES | {"en/api.yaml"}
    prose = [c for c in chunks if c.kind == "prose"]
    assert all(c.language == {"en": "en", "zh-cn": "zh", "ja": "ja"}[c.source.split("/")[0]] for c in prose)
    urls = {(c.source, c.anchor): c.url for c in chunks if c.source.endswith(("setup.md", "_index.md", "limits.md"))}
    assert urls[("en/docs/setup.md", "rotating-keys")] == "https://docs.example.com/docs/setup/#rotating-keys"
    assert urls[("zh-cn/docs/limits.md", "限制")] == "https://docs.example.com/zh-cn/limits/"  # the page's top
    assert {u for (s, _), u in urls.items() if s == "ja/docs/_index.md"} == {"https://docs.example.com/ja/docs/"}
    assert all(c.url == "" for c in chunks if c.source == "en/api.yaml")
    assert store.info("lumen").base_url == "https://docs.example.com/"
    assert main(["collections", "show", "lumen"]) == 0
    assert "links: https://docs.example.com/ (default language folder: en" in capsys.readouterr().out

    code, again = ingest_json(capsys, *folders, "--collection", "lumen")
    assert code == 0
    assert {f["status"] for f in again["files"] if f["source"] in PAGE_SOURCES} == {"unchanged"}
    assert again["totals"]["added"] == again["totals"]["updated"] == again["totals"]["removed"] == 0


def test_cli_refuses_a_clash_before_writing(cli_env, capsys, tmp_path, reranker_dir, embedder_dir):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Setup.md").write_text("# Setup\n\nCreate a Lumen project key first.\n")
    (docs / "setup.md").write_text("# Setup\n\nRotate Lumen project keys often.\n")
    if len(list(docs.iterdir())) < 2:
        pytest.skip("the file system ignores letter case")
    assert main(["ingest", str(docs), "--collection", "clash"]) == 1
    assert "would both be stored as the document" in capsys.readouterr().err
    store = Pipeline(tiny_settings(reranker_dir, embedder_dir, cli_env)).store
    assert "clash" not in {info.name for info in store.collections()}


def test_cli_refuses_a_bad_base_url_before_creating_the_collection(cli_env, capsys, tmp_path, reranker_dir,
                                                                   embedder_dir):
    site = build_site(tmp_path)
    assert main(["ingest", str(site / "en"), "--collection", "lumen", "--base-url", "docs.example.com"]) == 1
    assert "is not an http(s) address" in capsys.readouterr().err
    store = Pipeline(tiny_settings(reranker_dir, embedder_dir, cli_env)).store
    assert "lumen" not in {info.name for info in store.collections()}


def test_an_explicit_non_document_still_fails(cli_env, capsys, tmp_path):
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: Lumen\n")
    code, report = ingest_json(capsys, str(config), "--collection", "lumen")
    assert code == 1 and report["files"][0]["status"] == "failed"
    assert "not an OpenAPI document" in report["files"][0]["reason"]


def test_the_old_single_folder_names_are_flagged_when_folders_are_added(cli_env, capsys, tmp_path):
    site = build_site(tmp_path)
    assert ingest_json(capsys, str(site / "en"), "--collection", "lumen")[0] == 0
    code, report = ingest_json(capsys, str(site / "en"), str(site / "ja"), "--collection", "lumen")
    assert code == 0 and len(report["warnings"]) == 1
    warning = report["warnings"][0]
    assert "holds 4 documents (e.g. api.yaml)" in warning and "polydesk collections delete lumen" in warning


# --- Archives on the Documents page --------------------------------------------------------------------------------


def test_archive_non_documents_are_skipped(tmp_path, reranker_dir, embedder_dir):
    import time

    from core.admin.auth import new_session
    from core.admin.documents import DocumentAdmin

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for lang, page in PAGES.items():
            archive.writestr(f"site/{lang}/docs/setup.md", page["setup"])
            archive.writestr(f"site/{lang}/docs/images/console.png", PNG)
            archive.writestr(f"site/{lang}/mkdocs.yml", "site_name: Lumen\n")
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", uploads_path=tmp_path / "uploads")
    desk = DocumentAdmin(Pipeline(settings))
    admin = new_session("admin", "password", 30, time.monotonic())
    job = desk.upload(admin, "lumen", [("site.zip", buffer.getvalue())])
    assert job.wait(300) and not job.error, job.error
    status = {f.source: f.status for f in job.report.files}
    assert {s for s, st in status.items() if st == "ok"} == {f"site/{lang}/docs/setup.md" for lang in PAGES}
    assert {st for s, st in status.items() if not s.endswith("setup.md")} == {"skipped"} and len(status) == 9
    assert not job.report.failed
    assert {c.language for c in desk.pipeline.store.all_chunks("lumen")} == {"en", "zh", "ja"}


# --- Links where agents see them -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linked_store(tmp_path_factory, reranker_dir, embedder_dir) -> Path:
    """A store holding the English pages of the site, ingested with a base URL; returns the store's folder."""
    root = tmp_path_factory.mktemp("linked")
    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, root / "chroma"))
    report = pipeline.ingest([build_site(root) / "en"], "lumen", links=SiteLinks("https://docs.example.com/en/"))
    assert not report.failed, report.failed
    return root / "chroma"


@pytest.fixture
def linked_env(monkeypatch, linked_store, reranker_dir, embedder_dir):
    """POLYDESK_* variables for the linked store, the tiny models and no LLM (extractive answers)."""
    for name, value in {"EMBEDDING_MODEL": embedder_dir, "RERANKER_MODEL": reranker_dir, "CHROMA_PATH": linked_store,
                        "DEVICE": "cpu", "LLM": "off"}.items():
        monkeypatch.setenv(f"POLYDESK_{name}", str(value))


def test_search_and_ask_json_carry_urls(linked_env, capsys):
    assert main(["search", "How often should a project key be rotated?", "--collection", "lumen", "--json"]) == 0
    candidates = json.loads(capsys.readouterr().out)["candidates"]
    assert candidates and all(c["chunk"]["url"].startswith("https://docs.example.com/en/") for c in candidates
                              if c["chunk"]["source"].endswith(".md"))
    assert main(["ask", "How often should a project key be rotated?", "--collection", "lumen", "--json"]) == 0
    citations = json.loads(capsys.readouterr().out)["citations"]
    setup = [c for c in citations if c["source"] == "docs/setup.md"]
    assert setup and {c["url"] for c in setup} <= {"https://docs.example.com/en/docs/setup/",
                                                   "https://docs.example.com/en/docs/setup/#rotating-keys"}


def test_ask_page_citations_link_to_the_page(linked_env):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=300).run()
    assert not app.exception, app.exception
    app.chat_input[0].set_value("How often should a project key be rotated?").run()
    assert not app.exception, app.exception
    links = [m.value for m in app.markdown if m.value.startswith("Page: [")]
    assert links and all("](<https://docs.example.com/en/" in link for link in links)
    copied = {c.value for c in app.code if c.value.startswith("https://")}  # besides the answer's copy box
    assert copied and copied <= {link.split("](<")[1].removesuffix(">)") for link in links}


def test_legacy_names_are_the_old_per_folder_names(tmp_path):
    from core.knowledge.ingest.sources import legacy_sources

    site = build_site(tmp_path)
    inputs = [site / "en", site / "ja"]
    assert legacy_sources(inputs, plan_sources(inputs)) == {"_index.md", "docs/_index.md", "docs/setup.md",
                                                             "docs/limits.md", "api.yaml"}
    assert legacy_sources([site / "en"], plan_sources([site / "en"])) == set()


def test_pdf_chunks_link_to_their_page(tmp_path, reranker_dir, embedder_dir):
    from tests.test_parse import make_pdf

    folder = tmp_path / "manuals"
    folder.mkdir()
    (folder / "guide.pdf").write_bytes(make_pdf(["Project keys are created in the console under Settings.",
                                                 "Rotate a project key every ninety days.",
                                                 "A revoked key stops working at once."]))
    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma"))
    report = pipeline.ingest([folder], "manuals", links=SiteLinks("https://docs.example.com/"))
    assert not report.failed, report.failed
    chunks = pipeline.store.all_chunks("manuals")
    pages = {dict(c.extra)["page"]: c.url for c in chunks}
    assert pages == {str(n): f"https://docs.example.com/guide.pdf#page={n}" for n in (1, 2, 3)}
