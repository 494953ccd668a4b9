"""Saved lexical indexes: a restart maps the saved index, a new revision tokenises only new chunks."""

from __future__ import annotations

import numpy as np

from core.knowledge.lexical import LexicalIndex
from core.knowledge.lexical_files import LexicalIndexes
from core.knowledge.store import ChromaStore
from core.settings import load_settings
from core.types import Chunk

DIM = 8
PAGES = {
    "tokens.md": ("en", ["Create an access token with POST /v1/tokens.", "Tokens expire after one hour."]),
    "webhooks.md": ("de", ["Webhooks senden Ereignisse an Ihre URL.", "Signaturen prüfen mit X-Signature."]),
    "errors.md": ("ja", ["ERR_TOKEN_EXPIRED はトークンの期限切れです。", "再試行してください。"]),
}
QUERIES = [("access token", "en"), ("Webhooks Ereignisse", "de"), ("トークン", "ja"), ("ERR_TOKEN_EXPIRED", None)]


class CountingStore(ChromaStore):
    """A real store that records which chunk ids had their texts read."""

    texts_read: list[str]

    def chunks(self, name: str, ids):  # type: ignore[override]
        self.texts_read.extend(ids)
        return super().chunks(name, ids)


def page_chunks(source: str, language: str, texts: list[str]) -> list[Chunk]:
    """One page's chunks, ids derived from source and text."""
    return [Chunk(id=f"{source}:{i}:{abs(hash(t))}", text=t, source=source, title=source, heading_path=(source,),
                  anchor="", language=language, index=i, content_hash=f"{source}{i}{t}", token_count=len(t.split()),
                  kind="prose") for i, t in enumerate(texts)]


def open_store(tmp_path) -> CountingStore:
    """A counting store over an embedded Chroma in tmp_path."""
    store = CountingStore.from_settings(load_settings(chroma_path=tmp_path / "chroma"))
    store.texts_read = []
    return store


def write(store: ChromaStore, source: str, language: str, texts: list[str], stale: list[str] = ()) -> list[Chunk]:
    """Store one page's chunks with random embeddings."""
    chunks = page_chunks(source, language, texts)
    store.write_source("docs", chunks, np.random.default_rng(0).normal(size=(len(chunks), DIM)).astype(np.float32),
                       list(stale))
    return chunks


def fresh_results(store: ChromaStore) -> list[list[tuple[str, float]]]:
    """What an index built from scratch over every stored chunk answers to QUERIES."""
    chunks = store.all_chunks("docs")
    index = LexicalIndex([c.id for c in chunks], [c.text for c in chunks], [c.language for c in chunks])
    return [index.search(q, 10, lang) for q, lang in QUERIES]


def results(index: LexicalIndex) -> list[list[tuple[str, float]]]:
    """What an index answers to QUERIES."""
    return [index.search(q, 10, lang) for q, lang in QUERIES]


def test_a_restart_maps_the_saved_index_without_reading_any_text(tmp_path):
    store = open_store(tmp_path)
    store.open_for_ingest("docs", "tiny", DIM)
    for source, (language, texts) in PAGES.items():
        write(store, source, language, texts)
    revision = store.info("docs").revision
    first = LexicalIndexes(store, tmp_path / "lexical").get("docs", revision)
    assert results(first) == fresh_results(store) and any(results(first))
    store.texts_read.clear()

    restarted = LexicalIndexes(store, tmp_path / "lexical").get("docs", revision)
    assert store.texts_read == []
    assert isinstance(restarted.bm25.scores["data"], np.memmap)
    assert results(restarted) == fresh_results(store)
    assert restarted.language_of == first.language_of


def test_a_new_revision_tokenises_only_new_chunks_even_after_a_restart(tmp_path):
    store = open_store(tmp_path)
    store.open_for_ingest("docs", "tiny", DIM)
    old = {source: write(store, source, language, texts) for source, (language, texts) in PAGES.items()}
    LexicalIndexes(store, tmp_path / "lexical").get("docs", store.info("docs").revision)
    texts = ["Create an access token with POST /v1/tokens.", "Refresh tokens last 30 days."]
    new = write(store, "tokens.md", "en", texts, stale=[c.id for c in old["tokens.md"]])
    store.texts_read.clear()

    updated = LexicalIndexes(store, tmp_path / "lexical").get("docs", store.info("docs").revision)
    unseen = {c.id for c in new} - {c.id for c in old["tokens.md"]}
    assert set(store.texts_read) == unseen
    assert results(updated) == fresh_results(store)
    assert set(updated.ids) == {c.id for c in store.all_chunks("docs")}
    saved = [p.name for p in (tmp_path / "lexical" / "docs").iterdir()]
    assert saved == [store.info("docs").revision]  # older revisions are removed


def test_an_unreadable_saved_index_is_rebuilt(tmp_path, caplog):
    store = open_store(tmp_path)
    store.open_for_ingest("docs", "tiny", DIM)
    for source, (language, texts) in PAGES.items():
        write(store, source, language, texts)
    revision = store.info("docs").revision
    LexicalIndexes(store, tmp_path / "lexical").get("docs", revision)
    (tmp_path / "lexical" / "docs" / revision / "ids.json").write_text("{broken", encoding="utf-8")

    rebuilt = LexicalIndexes(store, tmp_path / "lexical").get("docs", revision)
    assert results(rebuilt) == fresh_results(store)
    assert "unreadable" in caplog.text


def test_instances_converge_on_the_latest_revision(tmp_path):
    store = open_store(tmp_path)
    store.open_for_ingest("docs", "tiny", DIM)
    write(store, "tokens.md", "en", PAGES["tokens.md"][1])
    one, two = LexicalIndexes(store, tmp_path / "lexical"), LexicalIndexes(store, tmp_path / "lexical")
    one.get("docs", store.info("docs").revision)
    write(store, "webhooks.md", "de", PAGES["webhooks.md"][1])
    assert results(two.get("docs", store.info("docs").revision)) == fresh_results(store)
    assert results(one.get("docs", store.info("docs").revision)) == fresh_results(store)
