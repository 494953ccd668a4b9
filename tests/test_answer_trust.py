"""Answers an agent can trust: every passage sent listed, uncited and empty answers flagged, duplicates once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.answers.finish import CITES_NONE
from core.answers.run import EMPTY_GENERATION, AnswerRun
from core.answers.translate import translate
from core.errors import ConfigError
from core.models.chat.http import OpenAIChatGenerator
from core.models.chat.local import LocalChatGenerator
from core.ops.answers_cli import answer_json
from core.types import SearchResult
from tests.fake_servers import ChatReply, serve_chat, sse_events

PASSAGES = ["Access tokens expire after one hour.", "Refresh a token with POST /oauth/token.",
            "Webhooks are signed with HMAC-SHA256."]


@pytest.fixture
def search(make_candidate) -> SearchResult:
    candidates = tuple(make_candidate(text, rank=i) for i, text in enumerate(PASSAGES, start=1))
    return SearchResult("How long is a token valid?", "en", candidates, {"total": 1.0})


def run_with(search: SearchResult, generator, **kwargs) -> AnswerRun:
    return AnswerRun(search.query, search, None, lambda: generator, **kwargs)


def test_an_answer_citing_no_passage_lists_them_all_with_a_warning(search):
    with serve_chat(lambda _r: ChatReply(events=sse_events(["The documentation ", "does not say."]))) as (url, _):
        answer = run_with(search, OpenAIChatGenerator(url, "tiny")).answer()
    assert answer.mode == "generated" and answer.citations == ()
    assert CITES_NONE in answer.warnings
    assert [p.chunk.text for p in answer.passages] == PASSAGES
    assert answer.search_query == search.query


def test_a_cited_answer_carries_the_uncited_passages_too_and_no_warning(search):
    with serve_chat(lambda _r: ChatReply(events=sse_events(["One hour [1]."]))) as (url, _):
        answer = run_with(search, OpenAIChatGenerator(url, "tiny")).answer()
    assert [c.marker for c in answer.citations] == [1] and len(answer.passages) == 3
    assert CITES_NONE not in answer.warnings
    data = answer_json(answer, {})
    assert len(data["passages"]) == 3 and data["search_query"] == search.query and data["citations"][0]["url"] is None


def test_a_think_only_generation_falls_back_to_the_extractive_answer(search, chat_model_dir: Path):
    """A Thinking-2507-style template opens <think> itself: two new tokens are all thinking, no answer text."""
    generator = LocalChatGenerator(chat_model_dir, "tiny-thinking", thinking="on", max_new_tokens=2)
    generator.tokenizer.chat_template = generator.tokenizer.chat_template.replace(
        "{{- '<|im_start|>assistant\\n' }}", "{{- '<|im_start|>assistant\\n<think>\\n' }}")
    run = run_with(search, generator)
    streamed = "".join(run.stream())
    answer = run.answer()
    assert answer.mode == "extractive" and EMPTY_GENERATION in answer.warnings
    assert streamed == answer.text and PASSAGES[0] in answer.text


def test_identical_passages_from_two_collections_count_once(make_candidate):
    first = make_candidate(PASSAGES[0], rank=1)
    twin = replace(first, collection="other-copy", fused_rank=2)
    rest = [make_candidate(text, rank=i) for i, text in enumerate(PASSAGES[1:], start=3)]
    search = SearchResult("q", "en", (first, twin, *rest), {})
    run = run_with(search, None)
    assert [p.chunk.text for p in run.passages] == PASSAGES


def test_a_chosen_answer_language_with_the_llm_off_is_explained(search):
    answer = run_with(search, None, requested_language="de").answer()
    assert answer.mode == "extractive"
    assert any("cannot be written in German" in w and "POLYDESK_LLM" in w for w in answer.warnings)
    assert not run_with(search, None, requested_language="en").answer().warnings


def test_translation_with_the_llm_off_says_why():
    with pytest.raises(ConfigError, match="POLYDESK_LLM=off"):
        translate(None, "Tokens expire after one hour.", "de")


def test_citations_and_passages_carry_their_link_when_known(make_candidate):
    candidate = make_candidate(PASSAGES[0])
    linked = replace(candidate, chunk=replace(candidate.chunk, url="https://docs.parcelio.example/auth#tokens"))
    answer = run_with(SearchResult("q", "en", (linked,), {}), None).answer()
    data = answer_json(answer, {})
    assert data["citations"][0]["url"] == data["passages"][0]["url"] == "https://docs.parcelio.example/auth#tokens"
    assert "(https://docs.parcelio.example/auth#tokens)" in answer.text


def test_the_same_page_in_two_collections_fills_one_answer_slot(tmp_path, reranker_dir, embedder_dir):
    from core.pipeline import Pipeline
    from tests.conftest import SAMPLE, tiny_settings

    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", llm="off"))
    for name in ("docs-a", "docs-b"):
        assert not pipeline.ingest([SAMPLE / "en" / "authentication.md"], name).failed
    run = pipeline.ask("How long is an access token valid?", ["docs-a", "docs-b"])
    hashes = [p.chunk.content_hash for p in run.answer().passages]
    assert len(hashes) == 3 and len(set(hashes)) == 3
    assert len({c.chunk.content_hash for c in run.search.candidates[:3]}) < 3  # the search itself has twins
