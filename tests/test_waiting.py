"""Honest waiting: a question's steps told as they run, and a first start whose sample is searchable at once."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from streamlit.elements.lib.mutable_status_container import StatusContainer
from streamlit.testing.v1 import AppTest

import core.pipeline
from core.errors import MissingDependency
from core.knowledge.ingest.run import Progress
from core.models.device import MODEL_LOADING
from core.models.embed import make_embedder
from core.models.rerank import make_reranker, rerank_budget
from core.ops.startup import Startup, startup
from core.pipeline import SAMPLE_COLLECTION, Pipeline
from core.settings import load_settings
from core.timing import with_added
from core.types import Turn
from tests import test_ask
from tests.conftest import SAMPLE, tiny_settings
from tests.fake_servers import ChatReply, serve_chat, sse_events
from tests.test_ask import APP, QUESTION, passages

app_env = test_ask.app_env  # the fixture, shared
LEXICAL_ONLY = "Lexical search only in"


class HeldEmbedder:
    """A real embedder whose document embedding waits until `release` is set (queries are embedded at once)."""

    def __init__(self, inner, release: threading.Event) -> None:
        self.inner = inner
        self.model_id, self.dim = inner.model_id, inner.dim
        self.release = release
        self.entered = threading.Event()  # set once a document embedding waits

    def embed_documents(self, texts) -> np.ndarray:
        self.entered.set()
        assert self.release.wait(300), "the test never released the embedder"
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def reranking(settings) -> str:
    """The stage label of reranking a full budget of candidates."""
    return f"Reranking {rerank_budget(settings).k} passages…"


def test_a_question_says_each_step_before_it_runs(sample_pipeline):
    pipeline = Pipeline(sample_pipeline.settings)  # nothing loaded yet
    seen: list[str] = []
    run = pipeline.ask(QUESTION, ["parcelio"], on_stage=seen.append)
    assert seen == ["Loading the language detector…", "Detecting the language…", "Loading the reranker…",
                    "Loading the embedding model…", "Searching…", reranking(pipeline.settings)]
    assert len(run.search.candidates) == rerank_budget(pipeline.settings).k
    timings = run.timings_ms
    assert timings["load"] > 0 and timings["language"] > 0
    assert timings["total"] >= timings["load"] + timings["language"] + timings["reranked"]
    seen.clear()
    again = pipeline.ask(QUESTION, ["parcelio"], on_stage=seen.append)
    assert seen == ["Detecting the language…", "Searching…", reranking(pipeline.settings)]
    assert again.timings_ms["load"] == 0, "nothing loaded for the second question"


def test_a_follow_up_says_it_is_rewritten(sample_pipeline, monkeypatch):
    with serve_chat(lambda _r: ChatReply(events=sse_events(["How long is a refreshed access token valid?"]))) \
            as (url, _seen):
        pipeline = Pipeline(sample_pipeline.settings.model_copy(update={"llm_url": url}))
        pipeline._part("embedder", lambda: sample_pipeline.embedder)
        pipeline._part("reranker", lambda: sample_pipeline.reranker)
        seen: list[str] = []
        conversation = [Turn("user", QUESTION), Turn("assistant", "One hour [1].")]
        run = pipeline.ask("and after a refresh?", ["parcelio"], conversation=conversation, on_stage=seen.append)
    assert seen == ["Loading the language model…", "Rewriting the follow-up…", "Loading the language detector…",
                    "Detecting the language…", "Searching…", reranking(pipeline.settings)]
    assert run.search_query == "How long is a refreshed access token valid?" and run.timings_ms["rewrite"] > 0


def test_a_ticket_says_each_step(sample_pipeline):
    pipeline = Pipeline(sample_pipeline.settings.model_copy(update={"llm": "off"}))
    pipeline._part("embedder", lambda: sample_pipeline.embedder)
    seen: list[str] = []
    reply = pipeline.reply("Hello, how long is an access token valid? And how do I refresh it?", ["parcelio"],
                           on_stage=seen.append)
    count = len(reply.questions)
    assert count >= 1 and seen[:4] == ["Loading the language detector…", "Detecting the language…",
                                       "Finding the questions…", "Loading the reranker…"]
    assert seen[4:] == [label for i in range(1, count + 1)
                        for label in (f"Question {i} of {count}: Searching…",
                                      f"Question {i} of {count}: {reranking(pipeline.settings)}")] + [
        "Writing the reply…"]
    assert {"language", "dense", "lexical", "reranked", "total"} <= reply.timings_ms.keys()
    assert reply.timings_ms["load"] > 0  # the language detector and the reranker were built for this reply


def test_a_first_ingest_is_searchable_by_keywords_before_its_embeddings(tmp_path, reranker_dir, embedder_dir):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma")
    pipeline, release, searchable = Pipeline(settings), threading.Event(), threading.Event()
    pipeline._part("embedder", lambda: HeldEmbedder(make_embedder(settings), release))
    seen: list[Progress] = []

    def track(progress: Progress) -> None:
        seen.append(progress)
        if progress.chunks_total:
            searchable.set()

    reports = []
    ingest = threading.Thread(target=lambda: reports.append(pipeline.ingest([SAMPLE], "fresh", track,
                                                                            lexical_first=True)))
    ingest.start()
    try:
        assert searchable.wait(300)
        assert pipeline.store.count_by("fresh", "language")["language"] == {}, "nothing stored yet"
        early = pipeline.search("ERR_TOKEN_EXPIRED", ["fresh"])
        total = seen[-1].chunks_total
        assert [w for w in early.warnings if w.startswith(LEXICAL_ONLY)] == [
            f"Lexical search only in fresh: its embeddings are still being computed (0 of {total} chunks); "
            "searches become hybrid once they are stored."]
        assert "dense" not in early.rankings and early.candidates
        assert all(c.rerank_score is not None for c in early.candidates), "lexical candidates are reranked"
    finally:
        release.set()
        ingest.join(300)
    report = reports[0]
    assert not report.failed and report.totals()["added"] == total
    chunking = [p for p in seen if not p.chunks_total and p.stage != "done"]
    embedding = [p for p in seen if p.chunks_total]
    assert {p.stage for p in chunking} <= {"parse", "chunk", "language"} and seen.index(embedding[0]) == len(chunking)
    assert {p.stage for p in embedding} <= {"embed", "store", "done"}
    assert [p.chunks for p in embedding] == sorted(p.chunks for p in embedding)
    assert seen[-1] == Progress(seen[-1].total, seen[-1].total, "", "done", total, total)
    later = pipeline.search("ERR_TOKEN_EXPIRED", ["fresh"])
    assert not any(w.startswith(LEXICAL_ONLY) for w in later.warnings) and "dense" in later.rankings
    assert set(later.rankings["lexical"]) == set(early.rankings["lexical"]), "the same keyword hits, now stored"
    with pytest.raises(ValueError, match="for a new collection"):
        pipeline.ingest([SAMPLE], "fresh", lexical_first=True)


def test_a_first_ingest_is_answered_by_keywords_while_its_embedder_loads(tmp_path, reranker_dir, embedder_dir,
                                                                        monkeypatch):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", llm="off")
    loading, release, searchable = threading.Event(), threading.Event(), threading.Event()

    def held_embedder(settings):
        loading.set()
        assert release.wait(300), "the test never let the embedder load"
        return make_embedder(settings)

    monkeypatch.setattr(core.pipeline, "make_embedder", held_embedder)
    pipeline, reports = Pipeline(settings), []
    assert pipeline.reranker, "loaded first, as the background loading does"
    ingest = threading.Thread(target=lambda: reports.append(pipeline.ingest(
        [SAMPLE], "fresh", lambda step: step.chunks_total and searchable.set(), lexical_first=True)))
    ingest.start()
    try:
        assert searchable.wait(300) and loading.wait(300)
        answer = pipeline.ask("ERR_TOKEN_EXPIRED", ["fresh"]).answer()
        assert "embedding" not in pipeline.loaded_models(), "answered while the embedder still loads"
        assert [w for w in answer.warnings if w.startswith(LEXICAL_ONLY)] and answer.passages
        info = pipeline.store.info("fresh")
        hidden = json.loads((embedder_dir / "config.json").read_text())["hidden_size"]
        assert (info.embedding_model, info.embedding_dim) == (settings.embedding_model, hidden)
    finally:
        release.set()
        ingest.join(300)
    assert not reports[0].failed and reports[0].totals()["added"] > 0
    later = pipeline.search("ERR_TOKEN_EXPIRED", ["fresh"])
    assert "dense" in later.rankings and not any(w.startswith(LEXICAL_ONLY) for w in later.warnings)


def test_a_first_ingest_whose_embedder_fails_leaves_no_collection(tmp_path, reranker_dir, embedder_dir, monkeypatch):
    def missing(settings):
        raise MissingDependency("The in-process embedder needs torch and sentence-transformers: run `make install`.")

    monkeypatch.setattr(core.pipeline, "make_embedder", missing)
    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma"))
    with pytest.raises(MissingDependency, match="make install"):
        pipeline.ingest([SAMPLE], "fresh", lexical_first=True)
    assert pipeline.store.collections() == [] and pipeline.pending.get("fresh") is None


def test_a_question_before_the_sample_is_searchable_waits_saying_how_far_it_is(tmp_path, reranker_dir, embedder_dir,
                                                                               monkeypatch):
    release, labels = threading.Event(), []
    build_chunker = Pipeline._build_chunker
    monkeypatch.setattr(Pipeline, "_build_chunker", lambda self: release.wait(300) and build_chunker(self))
    begun = Startup(Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma")))
    begun.ingest_sample_in_background()

    def on_stage(label: str) -> None:
        labels.append(label)
        if len(labels) == 3:
            release.set()
    try:
        waited = begun.wait_until_searchable(on_stage)
    finally:
        release.set()
    assert waited > 0 and labels[:3] == ["First start: preparing the sample documentation…"] * 3
    assert begun.wait_until_searchable(labels.append) == 0.0 and len(labels) >= 3
    assert with_added({"language": 2.0, "load": 1.0, "total": 5.0}, {"load": waited}) == {
        "language": 2.0, "load": 1.0 + waited, "total": 5.0 + waited}
    assert begun.wait_sample(300) and not begun.sample_error


def test_models_load_one_at_a_time_and_other_parts_do_not_wait(tmp_path, reranker_dir, embedder_dir):
    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma"))
    loading, release = threading.Event(), threading.Event()

    def another_model_loads() -> None:
        with MODEL_LOADING:
            loading.set()
            assert release.wait(300), "the test never let the other model load"

    threads = [threading.Thread(target=another_model_loads), threading.Thread(target=lambda: pipeline.reranker),
               threading.Thread(target=lambda: pipeline.embedder)]
    threads[0].start()
    assert loading.wait(300)
    for thread in threads[1:]:
        thread.start()
    try:
        others = threading.Thread(target=lambda: (pipeline.chunker, pipeline.store, pipeline.languages))
        others.start()
        others.join(120)
        assert not others.is_alive(), "the chunker, store and language detector are built while a model loads"
        threads[1].join(1.0)
        assert pipeline.loaded_models() == frozenset(), "no model loads while another one does"
    finally:
        release.set()
        for thread in threads:
            thread.join(300)
    assert pipeline.loaded_models() == {"embedding", "reranker"}


@pytest.fixture
def status_labels(monkeypatch) -> list[str]:
    """Every label the pages' status boxes are updated to, in order."""
    labels: list[str] = []
    update = StatusContainer.update

    def recording(self, *, label: str | None = None, **kwargs) -> None:
        if label is not None:
            labels.append(label)
        update(self, label=label, **kwargs)

    monkeypatch.setattr(StatusContainer, "update", recording)
    return labels


def test_the_ask_page_says_what_loads_while_the_reranker_loads(app_env, monkeypatch, status_labels):
    monkeypatch.setenv("POLYDESK_LLM", "off")
    monkeypatch.setenv("POLYDESK_MAX_QUESTION_CHARS", "3999")  # a configuration of its own: nothing loaded yet
    building, release = threading.Event(), threading.Event()

    def held_reranker(settings):
        building.set()
        assert release.wait(300), "the page never said it waits for the reranker"
        return make_reranker(settings)

    monkeypatch.setattr(core.pipeline, "make_reranker", held_reranker)
    original = StatusContainer.update

    def release_when_told(self, *, label: str | None = None, **kwargs) -> None:
        if label == "Loading the reranker…":
            release.set()
        original(self, label=label, **kwargs)

    monkeypatch.setattr(StatusContainer, "update", release_when_told)
    try:
        app = AppTest.from_file(APP, default_timeout=300).run()
        assert building.wait(300), "the background loading reached the reranker"
        app.chat_input[0].set_value(QUESTION).run()
    finally:
        release.set()
    assert not app.exception, app.exception
    settings = load_settings()
    # the background loading is held at the reranker, its first model; the embedder comes next
    assert status_labels[:2] == ["Detecting the language…", "Loading the reranker…"]
    assert status_labels[2:] in (after := ["Searching…", reranking(settings), "Writing the answer…",
                                           "Answered from 3 passages."], ["Loading the embedding model…", *after])
    assert len(passages(app)) == 3
    assert any("model loading" in c.value and "language detection" in c.value for c in app.caption)


def test_the_ask_page_answers_by_keywords_while_the_sample_is_embedded(app_env, monkeypatch, tmp_path,
                                                                      status_labels):
    monkeypatch.setenv("POLYDESK_LLM", "off")
    monkeypatch.setenv("POLYDESK_CHROMA_PATH", str(tmp_path / "empty-store"))
    release, held = threading.Event(), []
    monkeypatch.setattr(core.pipeline, "make_embedder",
                        lambda s: held.append(HeldEmbedder(make_embedder(s), release)) or held[-1])
    begun = startup(load_settings())
    try:
        app = AppTest.from_file(APP, default_timeout=300).run()
        assert not app.exception, app.exception
        assert begun.wait_searchable(300) and held[0].entered.wait(300) and begun.sample_running
        progress = begun.sample_progress
        app.run()  # as the progress fragment does when the sample becomes searchable
        shown = [e.proto.text for e in app.get("progress")]
        assert len(shown) == 1 and "the sample documentation is searchable by keywords" in shown[0]
        assert f"computing its embeddings, 0 of {progress.chunks_total} chunks ({progress.done} of" in shown[0]
        app.chat_input[0].set_value("ERR_TOKEN_EXPIRED").run()
        assert not app.exception, app.exception
        warnings = [w.value for w in app.warning if w.value.startswith(LEXICAL_ONLY)]
        assert warnings == [f"Lexical search only in {SAMPLE_COLLECTION}: its embeddings are still being computed "
                            f"(0 of {progress.chunks_total} chunks); searches become hybrid once they are stored."]
        assert len(passages(app)) == 3
        assert not any("dense" in c.value for c in app.caption), "no dense search while the embeddings are pending"
    finally:
        release.set()
    assert begun.wait_sample(300) and not begun.sample_error
    app.run()
    assert not app.get("progress")
    app.chat_input[0].set_value("ERR_TOKEN_EXPIRED").run()
    assert not app.exception, app.exception
    assert len([w for w in app.warning if w.value.startswith(LEXICAL_ONLY)]) == 1, "only the first answer's"
    assert sum("dense" in c.value for c in app.caption) == 1, "the second answer is hybrid"
