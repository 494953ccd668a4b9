"""The facade the app and the CLI call: builds every part from the settings once, on first use."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from core.answers.answer_log import AnswerLog
from core.answers.conversation import check_turns, standalone_query
from core.answers.run import AnswerRun
from core.answers.ticket import MAX_REPLY_PASSAGES, check_ticket, extract_questions, merged_search
from core.answers.ticket_prompt import reply_messages
from core.errors import ConfigError, ModelNotAvailable, PolydeskError
from core.knowledge.chunk import Chunker
from core.knowledge.ingest.run import Ingester, IngestReport, Progress
from core.knowledge.language import (
    ALL_LANGUAGES,
    DEFAULT_LANGUAGES,
    LanguageDetector,
    language_codes,
    language_detector,
)
from core.knowledge.links import SiteLinks
from core.knowledge.pending import PendingCollections
from core.knowledge.question import check_question
from core.knowledge.search import HybridSearcher, OnStage, SearchDepth, quiet
from core.knowledge.store import ChromaStore
from core.models.chat import Generator, make_generator
from core.models.device import resolve_device
from core.models.embed import Embedder, make_embedder
from core.models.foreground import Foreground
from core.models.rerank import Reranker, make_reranker, rerank_budget
from core.models.source import cached_model_folder
from core.settings import Settings
from core.timing import timed, with_added
from core.types import SearchResult, TicketReply, Turn

T = TypeVar("T")
SAMPLE_FOLDER = Path(__file__).resolve().parents[1] / "data" / "sample"
SAMPLE_COLLECTION = "parcelio-sample"
# What a question (or a ticket reply) says while it waits for a model to load.
LOADING = {"languages": "Loading the language detector…", "embedder": "Loading the embedding model…",
           "reranker": "Loading the reranker…", "generator": "Loading the language model…"}


class Pipeline:
    """Store, models, chunker, language detector, ingester and searcher for one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._parts: dict[str, object] = {}
        self._building: dict[str, threading.Lock] = {}
        self.foreground = Foreground()

    def _part(self, name: str, build: Callable[[], T]) -> T:
        """Build a part once, even when threads ask for it at the same time; a built part never waits for a build,
        nor does a part wait for another part's build (the sample is chunked while the models load)."""
        if name in self._parts:
            return self._parts[name]
        with self._building.setdefault(name, threading.Lock()):
            if name not in self._parts:
                self._parts[name] = build()
            return self._parts[name]

    @property
    def store(self) -> ChromaStore:
        """The Chroma store."""
        return self._part("store", lambda: ChromaStore.from_settings(self.settings))

    @property
    def embedder(self) -> Embedder:
        """The configured embedder."""
        return self._part("embedder", lambda: make_embedder(self.settings))

    @property
    def reranker(self) -> Reranker:
        """The configured reranker."""
        return self._part("reranker", lambda: make_reranker(self.settings))

    @property
    def languages(self) -> LanguageDetector:
        """The language detector for the configured language set."""
        return self._part("languages", lambda: language_detector(language_set(self.settings.languages)))

    @property
    def chunker(self) -> Chunker:
        """A chunker that counts in tokens of the embedding model's tokenizer."""
        return self._part("chunker", self._build_chunker)

    def _build_chunker(self) -> Chunker:
        """Find the embedding tokenizer: POLYDESK_TOKENIZER, else the embedding model's folder or cache."""
        source = self.settings.tokenizer or self.settings.embedding_model
        folder = cached_model_folder(source)
        if folder is None:
            raise ModelNotAvailable(
                f"Chunks are measured in tokens of the embedding model's tokenizer, and {source} is not a local "
                f"folder or in the Hugging Face cache. Run `hf download {self.settings.embedding_model}` (the "
                "tokenizer files are enough when the embeddings come from a server), or set POLYDESK_TOKENIZER "
                "to a folder holding tokenizer.json."
            )
        return Chunker.from_folder(folder, self.settings.chunk_tokens, self.settings.chunk_overlap)

    @property
    def pending(self) -> PendingCollections:
        """Collections in their first ingest, searchable by keywords before their embeddings are stored."""
        return self._part("pending", PendingCollections)

    def loaded_models(self) -> frozenset[str]:
        """Which models ("embedding", "reranker") this pipeline has already loaded or connected."""
        return frozenset(role for role, part in (("embedding", "embedder"), ("reranker", "reranker"))
                         if part in self._parts)

    def ingest(self, paths: Iterable[Path], collection: str, progress: Callable[[Progress], None] | None = None,
               links: SiteLinks | None = None, lexical_first: bool = False) -> IngestReport:
        """Ingest files and folders into a collection; `links` replaces its link settings (None keeps them).
        lexical_first, for a new collection: chunk every file first and search the chunks by keywords while they
        are embedded and stored."""
        if lexical_first and any(c.name == collection for c in self.store.collections()):
            raise ValueError(f"lexical_first is for a new collection, and {collection} exists")
        detector = self.languages
        ingester = Ingester(self.store, self._ingest_embedder(lexical_first), self.chunker,
                            lambda texts: detector.detect_document(texts)[1],
                            int(self.settings.max_file_mb * 1_000_000), self.settings.write_batch_rows)
        if not lexical_first:
            return ingester.ingest_files(paths, collection, progress, links)
        pending = self.pending

        def track(step: Progress) -> None:
            pending.embedded(collection, step.chunks if step.chunks_total else 0)
            if progress:
                progress(step)
        try:
            return ingester.ingest_files(paths, collection, track, links,
                                         lambda chunks: pending.add(collection, chunks))
        except Exception:
            with suppress(PolydeskError):  # e.g. the embedder did not load: no empty collection is left behind
                if not self.store.sources(collection):
                    self.store.delete_collection(collection)
            raise
        finally:
            pending.remove(collection)

    def _ingest_embedder(self, first_ingest: bool) -> Embedder:
        """The embedder as an ingest uses it. In process, on a first ingest it loads only when the chunks are ready
        (they are searched by keywords meanwhile), and on a CPU it gives way to questions every few texts."""
        if self.settings.embedding_url:
            return self.embedder
        from core.models.embed.background import BackgroundEmbedder
        from core.models.embed.local import declared_signature

        if first_ingest and "embedder" not in self._parts:
            model_id, dim = declared_signature(self.settings)
        else:
            model_id, dim = self.embedder.model_id, self.embedder.dim
        on_cpu = resolve_device(self.settings.device) == "cpu"
        return BackgroundEmbedder(model_id, dim, lambda: self.embedder,
                                  self.foreground.give_way if on_cpu else None)

    @property
    def searcher(self) -> HybridSearcher:
        """The hybrid searcher over the store."""
        return self._part("searcher", lambda: self._new_searcher(self.embedder))

    def _new_searcher(self, embedder: Embedder | None) -> HybridSearcher:
        """A searcher with this embedder (None: lexical only) and the configured reranker."""
        return HybridSearcher(
            self.store, embedder, self.reranker, self.languages.detect_question, self.settings.reranker_instruction,
            SearchDepth(self.settings.dense_k, self.settings.lexical_k, rerank_budget(self.settings).k),
            self.settings.lexical_folder, self.pending,
        )

    def _ready_searcher(self, collections: Sequence[str], on_stage: OnStage,
                        timings: dict[str, float]) -> HybridSearcher:
        """The searcher once its models are loaded; collections all in their first ingest are searched by keywords
        without waiting for the embedder while it loads (it is needed for their embeddings first)."""
        if "embedder" not in self._parts and all(self.pending.get(name) is not None for name in collections):
            self._ready(("reranker",), on_stage, timings)
            return self._new_searcher(None)
        self._ready(("reranker", "embedder"), on_stage, timings)  # in the order the background loads them
        return self.searcher

    @property
    def answer_log(self) -> AnswerLog:
        """Where every answer and its rating is kept (POLYDESK_DATABASE_URL)."""
        return self._part("answer_log", lambda: AnswerLog(self.settings.database_url))

    def model_ids(self) -> dict[str, str]:
        """The configured model ids by role, as the answer log keeps them."""
        llm = "off" if self.settings.llm == "off" else self.settings.llm_model
        return {"embedding": self.settings.embedding_model, "reranker": self.settings.reranker_model, "llm": llm}

    @property
    def generator(self) -> Generator | None:
        """The configured LLM (None when POLYDESK_LLM=off)."""
        return self._part("generator", lambda: make_generator(self.settings))

    def _optional_generator(self) -> Generator | None:
        """The LLM, or None when it is off or cannot be built (the answer run says why)."""
        try:
            return self.generator
        except PolydeskError:
            return None

    def ask(self, question: str, collections: Sequence[str], language: str | None = None,
            conversation: Sequence[Turn] | None = None, on_stage: OnStage = quiet) -> AnswerRun:
        """Search (a follow-up made standalone from the conversation), then an answer to stream from the top
        passages, in `language`, else the question's. `on_stage` is told each step before it runs: a model
        loading, "Rewriting the follow-up…", "Detecting the language…", then the search's steps."""
        check_question(question, self.settings.max_question_chars)
        turns = check_turns(conversation or ())
        timings = {"load": 0.0}  # milliseconds waited for models: 0 when every one was loaded
        generator = None
        if turns and self.settings.llm != "off":
            with suppress(PolydeskError):  # the rewrite says why it is skipped
                self._ready(("generator",), on_stage, timings)
            generator = self._optional_generator()
            if generator is not None:
                on_stage("Rewriting the follow-up…")
        with timed(timings, "rewrite"):
            query, notes = standalone_query(question, turns, generator)
        if not turns:
            del timings["rewrite"]
        self._ready(("languages",), on_stage, timings)
        on_stage("Detecting the language…")
        with timed(timings, "language"):
            query_language = self.question_language(question, collections, turns, language)
        with self.foreground.question():
            searcher = self._ready_searcher(collections, on_stage, timings)
            result = searcher.search(query, collections, None, None, query_language=query_language,
                                     on_stage=on_stage)
        result.timings_ms.update(with_added(result.timings_ms, timings))  # the time before the search counts too
        return AnswerRun(question, result, language, lambda: self.generator, self.settings.top_n, history=turns,
                         warnings=notes, requested_language=language)

    def reply(self, message: str, collections: Sequence[str], language: str | None = None,
              on_stage: OnStage = quiet) -> TicketReply:
        """A reply drafted for a customer's message: its questions found and searched, the draft written from
        their passages in `language`, else the message's. TicketReply.warnings are about the questions; the
        draft carries its own. `on_stage` is told each step before it runs."""
        text = check_ticket(message)
        timings = {"load": 0.0}
        self._ready(("languages",), on_stage, timings)
        on_stage("Detecting the language…")
        with timed(timings, "language"):
            detected = self.languages.detect_question(text) or self.collection_language(collections)
        if self.settings.llm != "off":
            with suppress(PolydeskError):  # the questions are then picked without it, with a note
                self._ready(("generator",), on_stage, timings)
        on_stage("Finding the questions…")
        questions, notes = extract_questions(text, self._optional_generator())
        with self.foreground.question():
            searcher = self._ready_searcher(collections, on_stage, timings)
            results = [searcher.search(q, collections, None, None, query_language=detected,
                                       on_stage=lambda label, i=i: on_stage(f"Question {i} of {len(questions)}: "
                                                                            f"{label}"))
                       for i, q in enumerate(questions, 1)]
        search = merged_search(results, questions, detected, self.settings.top_n)
        search.timings_ms.update(with_added(search.timings_ms, timings))
        reply_language = language or detected
        run = AnswerRun(search.query, search, reply_language, lambda: self.generator, MAX_REPLY_PASSAGES,
                        requested_language=language,
                        prompt=lambda passages, lang: reply_messages(text, passages, lang))
        on_stage("Writing the reply…")
        draft = run.answer()
        return TicketReply(reply_language, questions, draft, notes, run.timings_ms)

    def _ready(self, parts: Sequence[str], on_stage: OnStage, timings: dict[str, float]) -> None:
        """Build the models a step needs, saying which one loads (or is awaited) and counting its time as "load"."""
        for part in parts:
            if part not in self._parts:
                on_stage(LOADING[part])
                with timed(timings, "load"):
                    getattr(self, part)

    def question_language(self, question: str, collections: Sequence[str], conversation: Sequence[Turn] = (),
                          chosen: str | None = None) -> str | None:
        """The question's language; when it has none (code, no letters): the conversation's, then the chosen
        answer language, then the collections' main language."""
        found = self.languages.detect_question(question)
        if found is None and conversation:
            found = self.languages.detect_question(" ".join(t.content for t in conversation if t.role == "user"))
        return found or chosen or self.collection_language(collections)

    def collection_language(self, collections: Sequence[str]) -> str | None:
        """The language most chunks of the collections are written in, or None."""
        counts: Counter[str] = Counter()
        for name in collections:
            counts.update(self.store.count_by(name, "language")["language"])
        counts.pop("", None)
        return counts.most_common(1)[0][0] if counts else None

    @property
    def answer_languages(self) -> tuple[str, ...]:
        """ISO 639-1 codes the Ask page offers: the configured POLYDESK_LANGUAGES."""
        return language_codes(language_set(self.settings.languages))

    def search(self, question: str, collections: Sequence[str], languages: Sequence[str] | None = None,
               top_n: int | None = None) -> SearchResult:
        """Hybrid search with reranking; an empty or too long question is refused (BadInput)."""
        check_question(question, self.settings.max_question_chars)
        with self.foreground.question():
            return self.searcher.search(question, collections, languages, top_n or self.settings.top_n)


@lru_cache(maxsize=4)
def shared_pipeline(settings: Settings) -> Pipeline:
    """The process-wide pipeline for a configuration: models, clients and indexes are built once per process."""
    return Pipeline(settings)


def language_set(setting: str) -> tuple[str, ...] | str:
    """POLYDESK_LANGUAGES: empty for the default set, `all`, or comma-separated ISO 639-1 codes."""
    value = setting.strip().lower()
    if not value:
        return DEFAULT_LANGUAGES
    if value == ALL_LANGUAGES:
        return ALL_LANGUAGES
    codes = tuple(code.strip() for code in value.split(",") if code.strip())
    try:
        language_detector(codes)
    except ValueError as exc:
        raise ConfigError(f"POLYDESK_LANGUAGES: {exc}") from exc
    return codes
